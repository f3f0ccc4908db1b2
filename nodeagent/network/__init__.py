"""Guest networking on the node: bridge, DHCP with static leases, metadata redirect, anti-spoofing."""
