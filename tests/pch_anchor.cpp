// Owns the precompiled test header that the test executables reuse.
