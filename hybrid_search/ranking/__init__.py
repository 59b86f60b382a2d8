"""Pure ranking functions: fusion, the confidence gate, the commercial stage. No I/O."""
