"""``ironbark up --with-node``: the node agent in the controller's process, registered with it.

The agent package (and libvirt) is imported only when this is switched on, so a controller
without the ``[node]`` extra never touches it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from controller.config import Settings
from controller.runtime import Runtime

HEALTH_PATH = "/_ironbark/health"


def embedded_node(settings: Settings, runtime: Runtime) -> AbstractAsyncContextManager[None]:
    from nodeagent.embedded import embedded_node as run_node
    from nodeagent.settings import load_node_settings

    url = settings.local_endpoint
    node = load_node_settings(None, controller_url=url, cluster_token=runtime.cluster_token)
    return run_node(node, url.rstrip("/") + HEALTH_PATH)
