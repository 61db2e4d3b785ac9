import Foundation
import Testing
import TokenMillTestSupport

private func write(_ dir: URL, _ name: String, _ bytes: [UInt8]) throws -> String {
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

private func lines(_ s: String) -> [String] { s.split(separator: "\n").map(String.init) }

@Suite struct NormalizeCLITests {
    let dir: URL
    init() throws { dir = try makeTemporaryDirectory("cli") }

    @Test func stdinToStdoutWithSummaryOnStderr() throws {
        let input = "{\"text\":\"\\ufeffﬁ Ｈｅｌｌｏ\\r\\n\",\"meta\":{\"k\":1}}\n{\"text\":\"plain\"}\n{\"text\":\"\\u0000\"}\n"
        let r = try runTokenmill(["normalize", "--form", "nfkc"], stdin: Data(input.utf8))
        #expect(r.status == 0)
        #expect(r.stdoutString == "{\"text\":\"fi Hello\\n\",\"meta\":{\"k\":1}}\n{\"text\":\"plain\"}\n")
        #expect(lines(r.stderr).count == 1)
        #expect(r.stderr.hasPrefix("normalize: 3 documents (30 B) in, 2 out (14 B); 2 changed, 1 dropped empty, 0 repaired"))
    }

    @Test func outputOrderIsInputOrderWithTwoThreads() throws {
        let texts = (0 ..< 20000).map { "doc \($0) ﬁ" }
        let input = texts.map { "{\"text\":\"\($0)\"}\n" }.joined()
        let path = try write(dir, "many.jsonl", Array(input.utf8))
        let out = dir.appendingPathComponent("many.out.jsonl.zst").path
        let r = try runTokenmill(["normalize", "--threads", "2", "-o", out, path])
        #expect(r.status == 0, "\(r.stderr)")
        let back = try runTokenmill(["normalize", "--form", "none", out])
        #expect(back.stdoutString == texts.map { "{\"text\":\"\($0.replacingOccurrences(of: "ﬁ", with: "fi"))\"}\n" }.joined())
    }

    @Test(arguments: [
        ("notjson.jsonl", "{\"text\": \"ok\"}\n{\"text\": nope}\n", "notjson.jsonl:2 (byte 24): not JSON: expected a value, found 'n'"),
        ("missing.jsonl", "{\"body\": \"x\"}\n", "missing.jsonl:1: no field 'text' in the record"),
        ("number.jsonl", "{\"text\": 12}\n", "missing.jsonl:1: field 'text' is a JSON number, not a string".replacingOccurrences(of: "missing", with: "number")),
        ("nul.jsonl", "{\"text\": \"a\u{0}b\"}\n", "nul.jsonl:1 (byte 11): not JSON: a NUL byte inside a string (must be escaped)"),
        ("deep.jsonl", "{\"text\": \"x\", \"a\": " + String(repeating: "[", count: 5000) + "\n", "deep.jsonl:1 (byte 530): JSON nested deeper than 512 levels"),
    ])
    func structureErrorsAreOneLineWithFileAndLine(name: String, content: String, message: String) throws {
        let path = try write(dir, name, Array(content.utf8))
        let out = dir.appendingPathComponent("never.jsonl").path
        let r = try runTokenmill(["normalize", "-o", out, path])
        #expect(r.status == 1)
        #expect(lines(r.stderr).count == 1, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: \(dir.path)/\(message)"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test func onErrorSkipCountsByReason() throws {
        let path = try write(dir, "mixed.jsonl", Array("{\"text\":\"a\"}\nbad\n{\"x\":1}\n{\"text\":\"b\"}\n".utf8))
        let r = try runTokenmill(["normalize", "--on-error", "skip", path])
        #expect(r.status == 0)
        #expect(r.stdoutString == "{\"text\":\"a\"}\n{\"text\":\"b\"}\n")
        #expect(r.stderr.contains("warning: skipped \(path):2 (byte 13): not JSON"))
        #expect(r.stderr.contains("2 skipped (1 missing text field, 1 not JSON)"))
    }

    @Test func invalidUTF8Policies() throws {
        let path = try write(dir, "bad.txt", [0x61, 0xC3, 0x28, 0x62])
        let replaced = try runTokenmill(["normalize", path])
        #expect(replaced.status == 0)
        #expect(replaced.stdoutString == "{\"text\":\"a\u{FFFD}(b\"}\n")
        #expect(replaced.stderr.contains("1 repaired (1 invalid UTF-8 sequences)"))
        let failed = try runTokenmill(["normalize", "--invalid-utf8", "fail", path])
        #expect(failed.status == 1)
        #expect(failed.stderr == "error: \(path):1 (byte 1): invalid UTF-8 at byte 1 of the text (use --invalid-utf8 replace to repair it)\n")
        let skipped = try runTokenmill(["normalize", "--invalid-utf8", "skip", path])
        #expect(skipped.status == 0 && skipped.stdout.isEmpty)
        let lone = try runTokenmill(["normalize", "--invalid-utf8", "fail"], stdin: Data("{\"text\":\"\\udc00\"}\n".utf8))
        #expect(lone.status == 1 && lone.stderr.contains("<stdin>:1: lone surrogate escape"))
    }

    @Test func compressedInputsTruncatedOrMisnamed() throws {
        let body = Array((0 ..< 300).map { "{\"text\":\"document number \($0)\"}\n" }.joined().utf8)
        let frame = zstdFrame(body)
        let cut = try write(dir, "cut.jsonl.zst", Array(frame.prefix(frame.count - 10)))
        let r = try runTokenmill(["normalize", cut])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: \(cut): byte \(frame.count - 10): zstd stream ends in the middle of a frame"))
        let gz = dir.appendingPathComponent("named.jsonl.zst")
        writeGzip([body], to: gz)
        let g = try runTokenmill(["normalize", gz.path])
        #expect(g.status == 0)
        #expect(g.stdout == Data(body))
        #expect(g.stderr.hasPrefix("warning: \(gz.path): gzip data in a file named .zst; reading it as gzip\n"))
    }

    @Test func emptyInputsWarn() throws {
        let path = try write(dir, "empty.jsonl", [])
        let r = try runTokenmill(["normalize", path])
        #expect(r.status == 0 && r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("warning: \(path): empty input, no documents\n"))
    }

    @Test func badUsageExits64() throws {
        #expect(try runTokenmill(["normalize", "--form", "nfx"]).status == 64)
        #expect(try runTokenmill(["normalize", "--threads", "0"]).status == 64)
        #expect(try runTokenmill(["normalize", "--text-field", "a..b"]).status == 64)
        let missing = try runTokenmill(["normalize", dir.appendingPathComponent("nope.jsonl").path])
        #expect(missing.status == 1 && missing.stderr.contains("nope.jsonl: no such file or directory"))
    }

    @Test func interruptedRunLeavesNoOutput() throws {
        let out = dir.appendingPathComponent("interrupted.jsonl").path
        let process = Process()
        process.executableURL = tokenmillBinary
        process.arguments = ["normalize", "-o", out]
        let pipe = Pipe()
        process.standardInput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        pipe.fileHandleForWriting.write(Data(String(repeating: "{\"text\":\"x\"}\n", count: 100_000).utf8))
        var waited = 0
        while try FileManager.default.contentsOfDirectory(atPath: dir.path).filter({ $0.hasPrefix(".interrupted") }).isEmpty && waited < 200 {
            usleep(10_000); waited += 1
        }
        #expect(waited < 200, "the temporary output never appeared")
        process.interrupt()
        for _ in 0 ..< 1000 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func helpStatesTheMemoryBoundAndAnExample() throws {
        let r = try runTokenmill(["normalize", "--help"])
        #expect(r.status == 0)
        #expect(r.stdoutString.contains("Example: tokenmill normalize --form nfkc"))
        #expect(r.stdoutString.contains("Memory: about 4 MiB"))
        let expected = try String(contentsOf: packageRoot.appendingPathComponent("Tests/TokenMillCLITests/Fixtures/normalize-help.txt"), encoding: .utf8)
        #expect(r.stdoutString == expected)
    }
}

@Suite struct StatsCLITests {
    @Test func countsPerSubsetExactly() throws {
        let docs: [(String, String?)] = [("abc", "A"), ("héllo", "B"), ("中文", "A"), ("x", nil), ("", "B")]
        let input = docs.map { t, s in
            s.map { "{\"text\":\"\(t)\",\"meta\":{\"pile_set_name\":\"\($0)\"}}\n" } ?? "{\"text\":\"\(t)\",\"meta\":{}}\n"
        }.joined()
        let r = try runTokenmill(["stats", "--by", "meta.pile_set_name", "--json"], stdin: Data(input.utf8))
        #expect(r.status == 0)
        let json = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        let groups = json["groups"] as! [String: [String: Int]]
        #expect(groups["A"]!["documents"] == 2 && groups["A"]!["bytes"] == 9 && groups["A"]!["characters"] == 5)
        #expect(groups["B"]!["documents"] == 2 && groups["B"]!["bytes"] == 6 && groups["B"]!["characters"] == 5)
        #expect(groups["unknown"]!["documents"] == 1 && groups["unknown"]!["bytes"] == 1)
        let overall = json["overall"] as! [String: Int]
        #expect(overall["documents"] == 5 && overall["bytes"] == 16 && overall["max_bytes"] == 6 && overall["min_bytes"] == 0)
        let table = try runTokenmill(["stats", "--by", "meta.pile_set_name"], stdin: Data(input.utf8))
        #expect(table.stdoutString.contains("overall"))
        #expect(table.stdoutString.split(separator: "\n").count == 8)
    }
}
