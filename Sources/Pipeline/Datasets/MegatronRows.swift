// What `megatron-args` needs of a packed dataset, and its --prepare files: Megatron's GPTDataset samples a
// dataset's sequences, so a row index (each pack row one sequence and one document) over the pack's
// .bin lets every Megatron sample be one TokenMill row; a tokenizer directory names the EOD token as
// eos_token. Format of rows.idx (Packing's `IndexedDatasetWriter.indexBytes`): MMIDIDX (the Megatron index
// layout), version 1, the pack's dtype, then
//   lengths   [rows] Int32, each L
//   pointers  [rows] Int64, the byte offset of the row in the pack's .bin (r·L·itemsize)
//   documents [rows + 1] Int64, 0…rows
// Cost: one pass over the pack's index; the .bin is linked, not copied.
import CorpusIO
import Foundation
import Packing

/// What `megatron-args` reads from a packed dataset's manifest and its inputs' manifests.
public struct PackedDatasetInfo: Sendable {
    public var prefix: String
    public var rowLength: Int
    public var rows: Int
    public var eodID: Int?
    public var eodToken: String?
    public var tokenizerPath: String?
    public var vocabularySize: Int?

    public init(prefix given: String) throws {
        let prefix = datasetPrefix(given)
        self.prefix = prefix
        guard let found = try DatasetManifest.read(prefix: prefix) else {
            throw StageError(.data, "\(prefix).json: missing (a packed dataset from `tokenmill pack` has one)")
        }
        guard case .packed(let manifest) = found else {
            throw StageError(.data, "\(prefix).json: not a packed dataset manifest (run `tokenmill pack` on the tokenized data)")
        }
        let reader: IndexedDatasetReader
        do { reader = try IndexedDatasetReader(prefix: prefix) } catch let e as DatasetError { throw StageError(.data, e.description) }
        rowLength = manifest.options.sequenceLength
        rows = reader.documentCount
        tokenizerPath = manifest.tokenizer?.path
        vocabularySize = manifest.tokenizer?.vocabularySize
        // The EOD: the inputs' tokenize manifests (given as pack saw them, or beside the pack), as `train` finds it.
        let inputs = manifest.inputs.compactMap { i in
            PackedDatasetManifest.inputCandidates(i, packPrefix: prefix).lazy.compactMap { p in (try? DatasetManifest.read(prefix: p)) ?? nil }.first?.tokenizedManifest
        }
        let eods = Set(inputs.compactMap { $0.options.eod?.id })
        let tokens = Set(inputs.compactMap { $0.options.eod?.token })
        eodID = eods.count == 1 ? eods.first.map(Int.init) : nil
        eodToken = tokens.count == 1 ? tokens.first : nil
    }
}

/// The files --prepare writes: a row index over the pack's .bin and a tokenizer directory Megatron loads.
public struct MegatronPreparation: Sendable {
    /// The prefix to give --data-path (DIR/rows) and the --tokenizer-model directory (nil without a tokenizer).
    public var dataPrefix: String
    public var tokenizerDirectory: String?

    /// DIR/rows.idx: sequence r is row r (L tokens at the row's offset in the pack's .bin), document r is
    /// sequence r. DIR/rows.bin: a symbolic link to the pack's .bin (relative when both are in one directory).
    /// DIR/tokenizer: tokenizer.json copied, and tokenizer_config.json naming the EOD token as eos_token.
    public static func write(_ d: PackedDatasetInfo, into dir: String) throws -> MegatronPreparation {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw StageError(.data, "\(dir): cannot create: \(error.localizedDescription)")
        }
        let reader: IndexedDatasetReader
        do { reader = try IndexedDatasetReader(prefix: d.prefix) } catch let e as DatasetError { throw StageError(.data, e.description) }
        let rows = reader.documentCount, L = d.rowLength
        for r in 0..<rows {
            let n = reader.documentTokenCount(r)
            guard n == L else { throw StageError(.data, "\(d.prefix).idx: row \(r) holds \(n) tokens, the manifest says \(L)") }
        }
        // Every row holds L tokens and the reader checked that the .bin is back to back, so row r starts at
        // byte r·L·itemsize: the pack's .bin read as `rows` sequences of L tokens, one per document.
        let index = IndexedDatasetWriter.indexBytes(dtype: reader.dtype, lengths: [Int32](repeating: Int32(L), count: rows),
                                                    documentIndices: (0...rows).map(Int64.init))
        let prefix = dir + "/rows"
        try writeFileAtomically(index, to: prefix + ".idx")
        let bin = absolutePath(d.prefix + ".bin")
        let target = (bin as NSString).deletingLastPathComponent == absolutePath(dir) ? (bin as NSString).lastPathComponent : bin
        try? fm.removeItem(atPath: prefix + ".bin")
        do { try fm.createSymbolicLink(atPath: prefix + ".bin", withDestinationPath: target) } catch {
            throw StageError(.data, "\(prefix).bin: cannot link to \(bin): \(error.localizedDescription)")
        }
        guard let tokenizer = d.tokenizerPath else { return MegatronPreparation(dataPrefix: prefix, tokenizerDirectory: nil) }
        guard let eod = d.eodToken else {
            throw StageError(.data, "\(d.prefix).json: its inputs' manifests name no single EOD token for the tokenizer's eos_token")
        }
        let resolved = tokenizer.hasPrefix("/") || fm.fileExists(atPath: tokenizer) ? tokenizer
            : ((absolutePath(d.prefix) as NSString).deletingLastPathComponent as NSString).appendingPathComponent(tokenizer)
        guard let json = fm.contents(atPath: resolved) else {
            throw StageError(.data, "\(resolved): the tokenizer \(d.prefix).json names is not readable")
        }
        let tdir = dir + "/tokenizer"
        try? fm.createDirectory(atPath: tdir, withIntermediateDirectories: true)
        // pad_token = EOD: GPTDataset then masks no real token as padding (a pad id equal to a special id is
        // replaced by -1), and add_extra_token_to_sequence=False works (without a pad id it assigns None).
        let config: [String: Any] = ["tokenizer_class": "PreTrainedTokenizerFast", "eos_token": eod, "pad_token": eod, "model_max_length": L]
        for (name, bytes) in [("tokenizer.json", Array(json)),
                              ("tokenizer_config.json", Array(try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])) + [0x0A])] {
            try writeFileAtomically(bytes, to: tdir + "/" + name)
        }
        return MegatronPreparation(dataPrefix: prefix, tokenizerDirectory: tdir)
    }
}
