//! lynx-compression
