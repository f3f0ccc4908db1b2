"""Instance metrics on the node: libvirt counters sampled every interval (:mod:`.sampler`),
turned into per-interval deltas (:mod:`.samples`) and shipped to the controller in batches
(:mod:`.shipper`)."""
