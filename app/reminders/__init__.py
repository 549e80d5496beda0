"""System to-dos (a lead about to drop, a planned visit, an audit result, task feedback) and their pushes."""
