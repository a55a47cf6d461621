"""The queues measured side by side: ours, and each peer, one module each.

Every module holds a ``Peer`` (what the benchmark needs to know: its database, how to
install, reset and count it, the commands that enqueue and drain) and, for the Python
ones, a ``main()`` that is the peer's driver process: ``python -m bench.peers.<name>
ACTION URL [ARGS]``. Each measured action runs in a process of its own, so its
database sessions end with it and the cost probe sees every commit it made.
"""
