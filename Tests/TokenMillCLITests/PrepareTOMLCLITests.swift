import Foundation
import Testing
import TokenMillTestSupport

@Suite final class PrepareTOMLCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("preparetoml") }
    deinit { try? FileManager.default.removeItem(at: dir) }

    /// Every file in the directory but the configs, by name; then removes them.
    private func takeOutputs() throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where !name.hasPrefix("prepare.") {
            files[name] = try Data(contentsOf: dir.appendingPathComponent(name))
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
        return files
    }

    @Test func theSameConfigInJSONAndTOMLWritesTheSameBytes() throws {
        let corpus = packageRoot.appendingPathComponent("corpora/test.jsonl.zst").path
        let tokenizer = try tokenizerFixture("deepseek-coder/tokenizer.json")
        let output = dir.appendingPathComponent("d").path
        let json = dir.appendingPathComponent("prepare.json")
        try Data("""
        {"inputs": ["\(corpus)"], "output": "\(output)", "tokenizer": "\(tokenizer)",
         "normalize": {"form": "nfkc"}, "tokenize": {"fim_rate": 0.2, "seed": 3},
         "pack": {"seq_len": 512, "valid_fraction": 0.05, "buffer_docs": 100, "seed": 4, "strategy": "best-fit"}}
        """.utf8).write(to: json)
        // The same keys, written with most of what the reader accepts: comments, a multi-line array
        // with a trailing comma, a literal string, a dotted key, an inline table, an exponent and `_`.
        let toml = dir.appendingPathComponent("prepare.toml")
        try Data("""
        # prepare config
        inputs = [
          "\(corpus)",  # the bundled test corpus
        ]
        output = "\(output)"
        tokenizer = '\(tokenizer)'
        normalize = { form = "nfkc" }

        [tokenize]
        fim_rate = 2e-1
        seed = 3

        [pack]
        seq_len = 5_12
        valid_fraction = 0.05
        buffer_docs = 100
        "seed" = 4
        strategy = "best-fit"

        """.utf8).write(to: toml)
        let a = try runTokenmill(["prepare", "--progress", "none", "--config", json.path])
        #expect(a.status == 0, "\(a.stderr)")
        let fromJSON = try takeOutputs()
        let b = try runTokenmill(["prepare", "--progress", "none", "--config", toml.path])
        #expect(b.status == 0, "\(b.stderr)")
        let fromTOML = try takeOutputs()
        #expect(fromJSON.keys.sorted() == ["d.bin", "d.clean.jsonl.zst", "d.clean.jsonl.zst.cleaning.json", "d.clean.jsonl.zst.tokenmill.json",
                                           "d.dedup-removed.jsonl", "d.idx", "d.json", "d.normalized.jsonl.zst", "d.normalized.jsonl.zst.tokenmill.json",
                                           "d.packed.bin", "d.packed.idx", "d.packed.json", "d.packed_valid.bin", "d.packed_valid.idx"])
        #expect(fromJSON.keys.sorted() == fromTOML.keys.sorted())
        for (name, data) in fromJSON { #expect(fromTOML[name] == data, "\(name) differs") }
    }

    static let malformed: [(String, Int, String)] = [
        ("seq_len = 512x", 6, "512x is not a value (strings need quotes)"),
        ("strategy = \"best-fit", 6, "unterminated string"),
        ("x = [1,\n 2", 6, "unterminated array (no closing ']')"),
        ("seq_len = 1", 6, "duplicate key 'pack.seq_len'"),
        ("seq_len.x = 1", 6, "'pack.seq_len' is already a value, not a table"),
        ("[pack]", 6, "table [pack] is defined twice"),
        ("[[pack]]", 6, "arrays of tables ([[…]]) are not supported"),
        ("when = 1979-05-27", 6, "1979-05-27: dates and times are not supported"),
        ("pad_id = 0x10", 6, "0x10: hexadecimal, octal and binary integers are not supported; write it in decimal"),
        ("seed = 01", 6, "01: leading zeros are not allowed"),
        ("s = \"a\\q\"", 6, "unknown escape '\\q' in a string"),
        ("seed = 1 2", 6, "expected the end of the line, found '2'"),
        ("= 3", 6, "expected a key, found '='"),
    ]

    @Test(arguments: malformed)
    func malformedTOMLIsOneLineWithItsLineNumber(line: String, at: Int, message: String) throws {
        let config = dir.appendingPathComponent("prepare.toml")
        try Data("inputs = [\"x\"]\noutput = \"o\"\ntokenizer = \"t\"\n[pack]\nseq_len = 8\n\(line)\n".utf8).write(to: config)
        let r = try runTokenmill(["prepare", "--config", config.path])
        #expect(r.status == 1)
        #expect(r.stderr == "error: \(config.path):\(at): \(message)\n")
        #expect(r.stdout.isEmpty)
    }

    /// An unknown key is a usage error naming it, in either format; without an extension the content decides.
    @Test func unknownKeysAreNamedAsInJSONAndTheContentDecidesWithoutAnExtension() throws {
        let config = dir.appendingPathComponent("prepare.cfg")
        let known = "(known: buffer_docs, pad_id, seed, seq_len, shuffle, strategy, valid_fraction)."
        for text in ["inputs = [\"x\"]\noutput = \"o\"\ntokenizer = \"t\"\npack = {seq_len = 8, sqe = 1}\n",
                     "inputs = ['x']\r\noutput = 'o'\r\ntokenizer = 't'\r\npack.seq_len = 8\r\npack.sqe = true\r\n",
                     "  {\"inputs\": [\"x\"], \"output\": \"o\", \"tokenizer\": \"t\", \"pack\": {\"seq_len\": 8, \"sqe\": 1}}"] {
            try Data(text.utf8).write(to: config)
            let r = try runTokenmill(["prepare", "--config", config.path])
            #expect(r.status == 64)
            #expect(r.stderr == "error: \(config.path): unknown key 'pack.sqe' \(known)\n")
        }
        try Data("inputs = [\"x\"]\noutput = \"o\"\ntokenizer = \"t\"\n[pack]\nseq_len = true\n".utf8).write(to: config)
        let wrongType = try runTokenmill(["prepare", "--config", config.path])
        #expect(wrongType.status == 64 && wrongType.stderr == "error: \(config.path): 'pack.seq_len' must be a number.\n")
    }
}
