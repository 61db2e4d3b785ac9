// Intentionally empty: SwiftPM needs one source file per C target. The API is zstd.h itself.
