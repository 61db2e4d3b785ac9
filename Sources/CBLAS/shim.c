// Intentionally empty: SwiftPM needs one source file per C target. The API is cblas.h itself.
