// Reading and writing tokenizer files: Hugging Face tokenizer.json (byte-level BPE), GPT-2
// vocab.json + merges.txt, and tiktoken's `.tiktoken` ranks.
// Policy: anything this library cannot reproduce exactly is refused with the JSON path that says so
// (WordPiece/Unigram models, normalizers other than NFC/NFKC/NFD/NFKD, pre-tokenizers other than
// Split/ByteLevel/Digits, BPE dropout, subword prefixes). tokenizer.json is written the way tokenizers
// 0.23 writes it (key order, pair merges), and a .tiktoken file as base64 + rank lines.
// A .tiktoken file does not say its regex or special tokens: they come from the file name
// (r50k_base, p50k_base, cl100k_base, o200k_base) or the caller.

import CorpusIO
import Foundation
import Normalization

extension Tokenizer {
    /// Loads a tokenizer from a tokenizer.json, a vocab.json (with merges.txt beside it), a .tiktoken
    /// file, or a directory holding one of them.
    /// - Parameter preset: the pre-tokenizer for a .tiktoken file whose name does not imply one.
    public static func load(path: String, preset: PreTokenizerPreset? = nil) throws -> Tokenizer {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError.io(path: path, "no such file or directory")
        }
        if isDir.boolValue {
            for name in ["tokenizer.json", "vocab.json"] where FileManager.default.fileExists(atPath: path + "/" + name) {
                return try load(path: path + "/" + name, preset: preset)
            }
            let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            if let t = files.sorted().first(where: { $0.hasSuffix(".tiktoken") }) { return try load(path: path + "/" + t, preset: preset) }
            throw TokenizerError.io(path: path, "no tokenizer.json, vocab.json or .tiktoken file in this directory")
        }
        if path.hasSuffix(".tiktoken") { return try loadTiktoken(path: path, preset: preset) }
        let name = (path as NSString).lastPathComponent
        if name == "vocab.json" || name.hasSuffix("-vocab.json") {
            let merges = (path as NSString).deletingLastPathComponent + "/" + name.replacingOccurrences(of: "vocab.json", with: "merges.txt")
            return try loadGPT2(vocabPath: path, mergesPath: merges)
        }
        return try loadHuggingFace(path: path)
    }

    // MARK: tokenizer.json

    /// Loads a Hugging Face tokenizer.json with a byte-level BPE model.
    public static func loadHuggingFace(path: String) throws -> Tokenizer {
        let root = JSONCursor(value: try JSONValue.parse(try readFile(path), path: path), path: "")
        return try fromHuggingFace(root, file: path)
    }

    /// Parses tokenizer.json text (for tests).
    public static func fromHuggingFaceJSON(_ text: String) throws -> Tokenizer {
        try fromHuggingFace(JSONCursor(value: try JSONValue.parse(Array(text.utf8), path: "<json>"), path: ""), file: "<json>")
    }

    private static func fromHuggingFace(_ root: JSONCursor, file: String) throws -> Tokenizer {
        do {
            return try parseHuggingFace(root)
        } catch TokenizerError.invalid(let p, let m, let h) {
            throw TokenizerError.invalid(path: "\(file): \(p)", m, hint: h)
        } catch TokenizerError.unsupported(let p, let m) {
            throw TokenizerError.unsupported(path: "\(file): \(p)", m)
        }
    }

    private static func parseHuggingFace(_ root: JSONCursor) throws -> Tokenizer {
        // 1. The model.
        let model = try root.required("model")
        let type = try model.optional("type")?.string ?? ((try model.optional("merges")) != nil ? "BPE" : "unknown")
        guard type == "BPE" else {
            throw TokenizerError.unsupported(path: model.path + ".type", "model type \(type.debugDescription) is not supported: only byte-level BPE models load (WordPiece, WordLevel and Unigram do not)")
        }
        if let d = try model.optional("dropout"), case .number(let t) = d.value, (Double(t) ?? 0) > 0 {
            throw TokenizerError.unsupported(path: d.path, "BPE dropout is not supported")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = try model.optional(key), try !v.string.isEmpty {
                throw TokenizerError.unsupported(path: v.path, "a subword prefix or suffix is not supported in byte-level BPE")
            }
        }
        let ignoreMerges = try model.bool("ignore_merges", default: false)
        var vocab: [(bytes: [UInt8], id: Int)] = []
        var extra: [(bytes: [UInt8], id: Int)] = []
        let vocabCursor = try model.required("vocab")
        for (token, idCursor) in try vocabCursor.members {
            let id = try idCursor.int
            if let bytes = ByteLevel.decode(token) { vocab.append((bytes, id)) } else { extra.append((Array(token.utf8), id)) }
        }
        let mergesCursor = try model.required("merges")
        var merges: [([UInt8], [UInt8])] = []
        for m in try mergesCursor.array {
            let parts: [String]
            switch m.value {
            case .string(let s):
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                guard parts.count == 2 else { throw m.invalid("a merge must be two tokens separated by one space, found \(s.debugDescription)") }
            case .array:
                parts = try m.array.map { try $0.string }
                guard parts.count == 2 else { throw m.invalid("a merge must be a pair of tokens") }
            default: throw m.invalid("a merge must be a string or a pair of strings, found \(m.value.typeName)")
            }
            guard let a = ByteLevel.decode(parts[0]), let b = ByteLevel.decode(parts[1]) else {
                throw m.invalid("merge \(parts) has a character outside the byte-level alphabet", hint: "this is not a byte-level BPE")
            }
            merges.append((a, b))
        }
        let bpe = try BPEModel(vocab: vocab, merges: merges, ignoreMerges: ignoreMerges, extraTokens: extra,
                               vocabPath: vocabCursor.path, mergePath: { "\(mergesCursor.path)[\($0)]" })
        // 2. Added tokens.
        var added: [AddedToken] = []
        if let list = try root.optional("added_tokens") {
            for t in try list.array {
                added.append(AddedToken(id: try t.required("id").int, content: try t.required("content").string,
                                        special: try t.bool("special", default: false), normalized: try t.bool("normalized", default: true),
                                        lstrip: try t.bool("lstrip", default: false), rstrip: try t.bool("rstrip", default: false),
                                        singleWord: try t.bool("single_word", default: false)))
            }
        }
        // 3. Normalizer and pre-tokenizer.
        var forms: [NormalizationForm] = []
        if let n = try root.optional("normalizer") { try parseNormalizer(n, into: &forms) }
        guard let pre = try root.optional("pre_tokenizer") else {
            throw TokenizerError.unsupported(path: "pre_tokenizer", "no pre-tokenizer: a byte-level BPE needs a ByteLevel pre-tokenizer")
        }
        var steps: [PreTokenizerStep] = []
        var slots = 0
        try parsePreTokenizer(pre, into: &steps, slots: &slots)
        guard let last = steps.last, case .byteLevel = last else {
            throw TokenizerError.unsupported(path: pre.path, "the last pre-tokenizer must be ByteLevel (this is not a byte-level BPE, or ByteLevel is not last)")
        }
        if steps.dropLast().contains(where: { if case .byteLevel = $0 { return true } else { return false } }) {
            throw TokenizerError.unsupported(path: pre.path, "ByteLevel must be the last pre-tokenizer")
        }
        let preTokenizer = PreTokenizer(steps: steps, name: describe(steps))
        var extras = TokenizerExtras()
        if let p = try root.optional("post_processor") { var o: [UInt8] = []; appendJSON(p.value, to: &o); extras.postProcessorJSON = String(decoding: o, as: UTF8.self) }
        if let d = try root.optional("decoder") { var o: [UInt8] = []; appendJSON(d.value, to: &o); extras.decoderJSON = String(decoding: o, as: UTF8.self) }
        return Tokenizer(model: bpe, preTokenizer: preTokenizer, normalizers: forms, addedTokens: added, extras: extras)
    }

    private static func describe(_ steps: [PreTokenizerStep]) -> String {
        let core = PreTokenizer(steps: Array(steps.dropLast()), name: "")
        if let p = core.preset, case .byteLevel(false, false) = steps.last! { return p.rawValue }
        if steps.count == 1, case .byteLevel(_, true) = steps[0] { return "gpt2" }
        return "custom"
    }

    private static func parseNormalizer(_ n: JSONCursor, into forms: inout [NormalizationForm]) throws {
        let type = try n.required("type").string
        switch type {
        case "NFC": forms.append(.nfc)
        case "NFKC": forms.append(.nfkc)
        case "NFD": forms.append(.nfd)
        case "NFKD": forms.append(.nfkd)
        case "Sequence":
            for item in try n.required("normalizers").array { try parseNormalizer(item, into: &forms) }
        default:
            throw TokenizerError.unsupported(path: n.path + ".type", "normalizer \(type.debugDescription) is not supported (NFC, NFKC, NFD, NFKD and Sequence are)")
        }
    }

    private static func parsePreTokenizer(_ p: JSONCursor, into steps: inout [PreTokenizerStep], slots: inout Int) throws {
        let type = try p.required("type").string
        switch type {
        case "Sequence":
            for item in try p.required("pretokenizers").array { try parsePreTokenizer(item, into: &steps, slots: &slots) }
        case "ByteLevel":
            steps.append(.byteLevel(addPrefixSpace: try p.bool("add_prefix_space", default: true), useRegex: try p.bool("use_regex", default: true)))
        case "Digits":
            steps.append(.split(.numeric, try p.bool("individual_digits", default: false) ? .isolated : .contiguous, invert: false))
        case "Split":
            let pattern = try p.required("pattern")
            let behaviorCursor = try p.required("behavior")
            guard let behavior = SplitBehavior(rawValue: try behaviorCursor.string) else {
                throw behaviorCursor.invalid("unknown split behavior \(try behaviorCursor.string.debugDescription)", hint: "one of \(SplitBehavior.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let invert = try p.bool("invert", default: false)
            if let r = try pattern.optional("Regex") {
                let source = try r.string
                if let kind = PreTokenizerPreset.scanner(forPattern: source) {
                    steps.append(.split(.scanner(kind), behavior, invert: invert))
                } else {
                    steps.append(.split(.regex(try ICURegexPattern(source, path: r.path), slot: slots), behavior, invert: invert))
                    slots += 1
                }
            } else if let s = try pattern.optional("String") {
                steps.append(.split(.literal(Array(try s.string.utf8)), behavior, invert: invert))
            } else {
                throw pattern.invalid("expected {\"Regex\": ...} or {\"String\": ...}")
            }
        default:
            throw TokenizerError.unsupported(path: p.path + ".type", "pre-tokenizer \(type.debugDescription) is not supported (Split, ByteLevel, Digits and Sequence are)")
        }
    }

    // MARK: GPT-2 vocab.json + merges.txt

    /// Loads GPT-2's vocab.json and merges.txt (GPT-2 regex, `<|endoftext|>` special when present).
    public static func loadGPT2(vocabPath: String, mergesPath: String) throws -> Tokenizer {
        let root = JSONCursor(value: try JSONValue.parse(try readFile(vocabPath), path: vocabPath), path: "")
        var vocab: [(bytes: [UInt8], id: Int)] = []
        var extra: [(bytes: [UInt8], id: Int)] = []
        var added: [AddedToken] = []
        do {
            for (token, c) in try root.members {
                let id = try c.int
                if let b = ByteLevel.decode(token) { vocab.append((b, id)) } else { extra.append((Array(token.utf8), id)) }
                if token == "<|endoftext|>" { added.append(AddedToken(id: id, content: token, special: true)) }
            }
        } catch TokenizerError.invalid(let p, let m, let h) { throw TokenizerError.invalid(path: "\(vocabPath): \(p)", m, hint: h) }
        let text = String(decoding: try readFile(mergesPath), as: UTF8.self)
        var merges: [([UInt8], [UInt8])] = []
        var lines: [Int] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = line.hasSuffix("\r") ? line.dropLast() : line
            if l.isEmpty || (n == 0 && l.hasPrefix("#version")) { continue }
            let parts = l.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = ByteLevel.decode(String(parts[0])), let b = ByteLevel.decode(String(parts[1])) else {
                throw TokenizerError.invalid(path: "\(mergesPath):\(n + 1)", "expected two byte-level tokens separated by one space, found \(String(l).debugDescription)", hint: nil)
            }
            merges.append((a, b))
            lines.append(n + 1)
        }
        let model = try BPEModel(vocab: vocab, merges: merges, ignoreMerges: false, extraTokens: extra, vocabPath: vocabPath,
                                 mergePath: { "\(mergesPath):\(lines[$0])" })
        return Tokenizer(model: model, preTokenizer: PreTokenizer(steps: [.byteLevel(addPrefixSpace: false, useRegex: true)], name: "gpt2"),
                         addedTokens: added)
    }

    // MARK: tiktoken

    /// The pre-tokenizer and special tokens of OpenAI's encodings, by name.
    public static func tiktokenDefaults(name: String) -> (preset: PreTokenizerPreset, specials: [String: Int])? {
        switch name {
        case "r50k_base", "gpt2": return (.gpt2, ["<|endoftext|>": 50256])
        case "p50k_base": return (.gpt2, ["<|endoftext|>": 50256])
        case "cl100k_base": return (.cl100k, ["<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276])
        case "o200k_base": return (.o200k, ["<|endoftext|>": 199999, "<|endofprompt|>": 200018])
        default: return nil
        }
    }

    /// Loads a .tiktoken file (`base64 rank` per line). Its pre-tokenizer and special tokens come from
    /// `preset`/`specials`, or from the file name for OpenAI's encodings.
    public static func loadTiktoken(path: String, preset: PreTokenizerPreset? = nil, specials: [String: Int]? = nil) throws -> Tokenizer {
        let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let defaults = tiktokenDefaults(name: name)
        guard let chosen = preset ?? defaults?.preset else {
            throw TokenizerError.usage("\(path): a .tiktoken file does not name its regex; choose one with --pretokenizer (\(PreTokenizerPreset.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let data = try readFile(path)
        var ranks: [(bytes: [UInt8], rank: Int)] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let parts = line.split(separator: 0x20)
            guard parts.count == 2, let bytes = decodeBase64(parts[0]), let rank = Int(String(decoding: parts[1], as: UTF8.self)) else {
                throw TokenizerError.invalid(path: "\(path):\(lineNumber)", "expected 'base64 rank'", hint: nil)
            }
            ranks.append((Array(bytes), rank))
        }
        let model = try BPEModel(ranks: ranks, vocabPath: path)
        let added = (specials ?? defaults?.specials ?? [:]).sorted { $0.value < $1.value }.map { AddedToken(id: $0.value, content: $0.key, special: true) }
        return Tokenizer(model: model, preTokenizer: .preset(chosen), addedTokens: added)
    }

    // MARK: Saving

    /// The tokenizer.json text, as tokenizers 0.23 writes it (pair merges, `ignore_merges`).
    public func huggingFaceJSON() -> String {
        var o: [UInt8] = []
        func put(_ s: String) { o.append(contentsOf: Array(s.utf8)) }
        put("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[")
        for (k, t) in addedTokens.sorted(by: { $0.id < $1.id }).enumerated() {
            if k > 0 { put(",") }
            put("{\"id\":\(t.id),\"content\":")
            appendJSONString(t.content, to: &o)
            put(",\"single_word\":\(t.singleWord),\"lstrip\":\(t.lstrip),\"rstrip\":\(t.rstrip),\"normalized\":\(t.normalized),\"special\":\(t.special)}")
        }
        put("],\"normalizer\":")
        switch normalizers.count {
        case 0: put("null")
        case 1: put("{\"type\":\"\(normalizers[0].rawValue.uppercased())\"}")
        default: put("{\"type\":\"Sequence\",\"normalizers\":[" + normalizers.map { "{\"type\":\"\($0.rawValue.uppercased())\"}" }.joined(separator: ",") + "]}")
        }
        put(",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[")
        for (k, step) in preTokenizer.steps.enumerated() {
            if k > 0 { put(",") }
            switch step {
            case let .split(pattern, behavior, invert):
                switch pattern {
                case .numeric: put("{\"type\":\"Digits\",\"individual_digits\":\(behavior == .isolated)}"); continue
                case .scanner(let kind): put("{\"type\":\"Split\",\"pattern\":{\"Regex\":"); appendJSONString(kind.pattern, to: &o)
                case .regex(let p, _): put("{\"type\":\"Split\",\"pattern\":{\"Regex\":"); appendJSONString(p.source, to: &o)
                case .literal(let b): put("{\"type\":\"Split\",\"pattern\":{\"String\":"); appendJSONString(String(decoding: b, as: UTF8.self), to: &o)
                }
                put("},\"behavior\":\"\(behavior.rawValue)\",\"invert\":\(invert)}")
            case let .byteLevel(prefix, useRegex):
                put("{\"type\":\"ByteLevel\",\"add_prefix_space\":\(prefix),\"trim_offsets\":true,\"use_regex\":\(useRegex)}")
            }
        }
        put("]},\"post_processor\":")
        put(extras.postProcessorJSON ?? "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true}")
        put(",\"decoder\":")
        put(extras.decoderJSON ?? "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true}")
        put(",\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,\"ignore_merges\":\(model.ignoreMerges),\"vocab\":{")
        var first = true
        for (id, bytes) in model.tokenBytes.enumerated() {
            guard let bytes, model.lookup.get(bytes) == Int32(id) else { continue }
            if !first { put(",") }
            first = false
            appendJSONString(ByteLevel.encode(bytes), to: &o)
            put(":\(id)")
        }
        put("},\"merges\":[")
        for (k, (l, r)) in model.merges.enumerated() {
            if k > 0 { put(",") }
            put("[")
            appendJSONString(ByteLevel.encode(model.tokenBytes[Int(l)]!), to: &o)
            put(",")
            appendJSONString(ByteLevel.encode(model.tokenBytes[Int(r)]!), to: &o)
            put("]")
        }
        put("]}}")
        return String(decoding: o, as: UTF8.self)
    }

    /// The .tiktoken text: `base64(bytes) rank` per model token, by rank (= id). Special tokens are not
    /// part of the format. tiktoken ranks a pair by the id of its result, which gives HF's merge order
    /// when ids were assigned in merge order, as `BPETrainer` does (a merge that reuses an existing id
    /// is the exception; TrainerTests checks that a trained vocabulary encodes identically).
    public func tiktokenText() throws -> String {
        var lines = ""
        for (id, bytes) in model.tokenBytes.enumerated() {
            guard let bytes, model.lookup.get(bytes) == Int32(id) else { continue }
            lines += Data(bytes).base64EncodedString() + " \(id)\n"
        }
        return lines
    }
}

extension ScannerKind {
    /// The regex this scanner implements.
    var pattern: String {
        switch self {
        case .gpt2: return PreTokenizerPreset.gpt2.patterns[0]
        case .cl100k: return PreTokenizerPreset.cl100k.huggingFacePatterns[0]
        case .cl100kOniguruma: return PreTokenizerPreset.cl100k.patterns[0]
        case .llama3: return PreTokenizerPreset.llama3.patterns[0]
        case .qwen2: return PreTokenizerPreset.qwen2.patterns[0]
        case .o200k: return PreTokenizerPreset.o200k.patterns[0]
        case .digits3: return PreTokenizerPreset.deepseekV3.patterns[0]
        case .cjk: return PreTokenizerPreset.deepseekV3.patterns[1]
        case .deepseekV3: return PreTokenizerPreset.deepseekV3.patterns[2]
        }
    }
}

/// Standard base64 (with padding) → bytes, or nil. (Foundation's decoder was most of .tiktoken load time.)
func decodeBase64<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
    var out: [UInt8] = []
    out.reserveCapacity(text.count * 3 / 4)
    var acc: UInt32 = 0, bits = 0, padding = 0
    for c in text {
        let v: UInt32
        switch c {
        case UInt8(ascii: "A") ... UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a") ... UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): v = 62
        case UInt8(ascii: "/"): v = 63
        case UInt8(ascii: "="): padding += 1; continue
        default: return nil
        }
        if padding > 0 { return nil }
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits))) }
    }
    guard (text.count % 4 == 0), padding <= 2 else { return nil }
    return out
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError.io(path: path, "cannot read the file") }
    return [UInt8](data)
}
