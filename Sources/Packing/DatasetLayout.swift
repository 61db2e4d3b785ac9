// How training reads a Megatron dataset: as `pack`'s rows or as a flat token stream (`tokenize`'s output or
// a bare .bin/.idx), and which end-of-text id starts segments. The dataset's manifests say it; the caller
// reads them (Pipeline's `DatasetManifest.trainingLayout`, typed) and hands the result to the trainer, so
// the Training target reads no manifest of its own.

/// What training needs to know of a dataset beyond its .bin/.idx.
public struct DatasetLayout: Sendable, Equatable {
    /// Rows of `pack` (each index document one row of the same length), not a flat stream.
    public var packed: Bool
    /// The end-of-text id the manifests give (nil: none known, no segments).
    public var eod: Int32?
    /// Where `eod` came from, for the log line.
    public var eodSource: String

    public init(packed: Bool, eod: Int32? = nil, eodSource: String = "") {
        self.packed = packed
        self.eod = eod
        self.eodSource = eodSource
    }

    /// A flat token stream with no known end-of-text id (a bare .bin/.idx or token file).
    public static let flat = DatasetLayout(packed: false)
}
