"""RPC method bodies, grouped by the contract's method groups. Thin: validate, forward, shape."""
