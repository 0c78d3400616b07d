//! Resolution: PubGrub over the index, one run per target platform.
