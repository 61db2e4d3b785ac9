// What training is told about a dataset (DatasetManifest.trainingLayout): tokenize's output is a flat
// stream with its EOD id; pack's rows are packed with the inputs' EOD id, or the pad id when the inputs
// disagree or cannot be read; a bare .bin/.idx is flat with no EOD.
import Foundation
import Packing
import Pipeline
import Testing

@Suite struct TrainingLayoutTests {
    @Test func tokenizedPackedAndBareDatasets() throws {
        let f = try DatasetFixture("training-layout")
        defer { f.remove() }
        let tokenized = try f.tokenize("t")
        let eod = try #require(tokenized.options.eod).id
        #expect(try DatasetManifest.trainingLayout(path: f.dir + "/t") == DatasetLayout(packed: false, eod: eod, eodSource: f.dir + "/t.json"))
        #expect(try DatasetManifest.trainingLayout(path: f.dir + "/t.bin").eod == eod)

        var o = PackOptions(sequenceLength: 64)
        o.padID = 7
        _ = try PackStage(inputs: [f.dir + "/t"], options: o).run(output: f.dir + "/p")
        #expect(try DatasetManifest.trainingLayout(path: f.dir + "/p") == DatasetLayout(packed: true, eod: eod, eodSource: "the packed inputs' manifests"))
        // An input given by another path (pack ran elsewhere) is found beside the pack.
        try FileManager.default.moveItem(atPath: f.dir + "/p.json", toPath: f.dir + "/p.original.json")
        let moved = String(decoding: try f.bytes("p.original.json"), as: UTF8.self).replacingOccurrences(of: "\"" + f.dir + "/t\"", with: "\"elsewhere/t\"")
        try Data(moved.utf8).write(to: URL(fileURLWithPath: f.dir + "/p.json"))
        #expect(try DatasetManifest.trainingLayout(path: f.dir + "/p").eodSource == "the packed inputs' manifests")
        try FileManager.default.removeItem(atPath: f.dir + "/p.json")
        try FileManager.default.moveItem(atPath: f.dir + "/p.original.json", toPath: f.dir + "/p.json")
        // Beside a bare relative prefix means in the working directory, not in /.
        #expect(PackedDatasetManifest.inputCandidates("elsewhere/t", packPrefix: "p") == ["elsewhere/t", FileManager.default.currentDirectoryPath + "/t"])
        // Without the input's manifest the pad id stands in for the EOD id.
        try FileManager.default.removeItem(atPath: f.dir + "/t.json")
        let fallback = try DatasetManifest.trainingLayout(path: f.dir + "/p")
        #expect(fallback.packed && fallback.eod == 7 && fallback.eodSource.hasPrefix("the pad id"))

        // A bare dataset (no manifest) is a flat stream with no EOD; a malformed manifest is an error naming it.
        try FileManager.default.removeItem(atPath: f.dir + "/p.json")
        #expect(try DatasetManifest.trainingLayout(path: f.dir + "/p") == .flat)
        try Data(#"{"format": "tokenmill-packed-megatron-dataset"}"#.utf8).write(to: URL(fileURLWithPath: f.dir + "/p.json"))
        #expect(throws: ManifestError.self) { try DatasetManifest.trainingLayout(path: f.dir + "/p") }
    }
}
