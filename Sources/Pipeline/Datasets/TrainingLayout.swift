// The training side's view of a dataset's manifests: packed or flat, and the end-of-text id (the tokenized
// manifest's, else for packed rows the one id all the pack's inputs agree on, else the pack's pad id, which
// is the EOD id unless `pack --pad-id` said otherwise).
import Foundation
import Packing

extension DatasetManifest {
    /// The layout `Trainer` needs for the dataset at `path` (a prefix, or its .bin/.idx).
    /// - Throws: `ManifestError` naming the file and field when the dataset's own manifest is malformed.
    public static func trainingLayout(path: String) throws(ManifestError) -> DatasetLayout {
        let prefix = datasetPrefix(path)
        let fm = FileManager.default
        guard fm.fileExists(atPath: prefix + ".idx"), fm.fileExists(atPath: prefix + ".bin"),
              let manifest = try read(prefix: prefix) else { return .flat }
        switch manifest {
        case .tokenized(let m):
            return DatasetLayout(packed: false, eod: m.options.eod?.id, eodSource: prefix + ".json")
        case .packed(let m):
            func inputManifest(_ input: String) -> DatasetManifest? {
                PackedDatasetManifest.inputCandidates(input, packPrefix: prefix).lazy.compactMap { p in (try? read(prefix: p)) ?? nil }.first
            }
            let ids = Set(m.inputs.compactMap { inputManifest($0)?.tokenizedManifest?.options.eod?.id })
            if ids.count == 1 { return DatasetLayout(packed: true, eod: ids.first!, eodSource: "the packed inputs' manifests") }
            return DatasetLayout(packed: true, eod: Int32(m.options.padID),
                                 eodSource: "the pad id (pack's default pad is the EOD id; pass --eod-id if it differs)")
        }
    }
}
