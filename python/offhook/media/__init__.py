"""Media descriptions shared by the engine bindings and SDP negotiation."""
