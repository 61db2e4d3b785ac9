import CorpusIO
import Foundation
import Normalization
import Testing
import TokenMillTestSupport

/// The generated strings with Python unicodedata's answers (tools/gen-normalization-fixtures).
private let fixtures: [Document] = {
    let path = packageRoot.appendingPathComponent("Tests/NormalizationTests/Fixtures/unicodedata.jsonl.zst").path
    var docs: [Document] = []
    try! CorpusReader(inputs: [path], options: ReadOptions(), warn: { _ in }).forEachDocument { docs.append($0) }
    return docs
}()

@Suite struct NormalizationTests {
    @Test(arguments: [NormalizationForm.nfc, .nfkc, .nfd, .nfkd])
    func matchesPythonUnicodedata(form: NormalizationForm) throws {
        #expect(fixtures.count == 4000)
        let normalizer = try TextNormalizer(form: form, cleanups: .none)
        var mismatches: [String] = []
        for doc in fixtures {
            var text = doc.text
            let changed = try normalizer.normalize(&text)
            let expected = doc.field(form.rawValue)!
            if !text.utf8.elementsEqual(expected.utf8) { mismatches.append("\(doc.location): \(doc.text.unicodeScalars.map { String($0.value, radix: 16) })") }
            #expect(changed == !expected.utf8.elementsEqual(doc.text.utf8))
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3))")
    }

    @Test func icuUnicodeVersionIsAtLeastTheFixtures() throws {
        let fixtureVersion = fixtures[0].field("unicode")!
        let major = { (v: String) in Int(v.split(separator: ".")[0])! }
        #expect(major(icuUnicodeVersion) >= major(fixtureVersion))
    }

    @Test(arguments: [
        ("ﬁ Ｈｅｌｌｏ ①", NormalizationForm.nfkc, "fi Hello 1"),
        ("ﬁ Ｈｅｌｌｏ ①", .nfc, "ﬁ Ｈｅｌｌｏ ①"),
        ("e\u{301}", .nfc, "\u{E9}"),
        ("\u{E9}", .nfd, "e\u{301}"),
        ("Straße ＡＢＣ Ⅻ", .nfkcCasefold, "strasse abc xii"),
        ("HELLO", .nfkcCasefold, "hello"),
        ("HELLO", .nfkc, "HELLO"),
        ("\u{1100}\u{1161}\u{11A8}", .nfc, "각"),
        ("x", .none, "x"),
    ])
    func knownForms(input: String, form: NormalizationForm, expected: String) throws {
        var text = input
        _ = try TextNormalizer(form: form, cleanups: .none).normalize(&text)
        #expect(Array(text.utf8) == Array(expected.utf8))  // String == would treat NFC and NFD as equal
    }

    @Test func cleanupsRunBeforeTheForm() throws {
        let n = try TextNormalizer(form: .nfkc)
        var text = "\u{FEFF}line one\r\nline\u{0} two\u{7F}\u{85}\r\ttab\u{FEFF}"
        #expect(try n.normalize(&text))
        #expect(text == "line one\nline two\ttab\u{FEFF}")  // only a leading BOM is dropped
    }

    @Test func eachCleanupCanBeSwitchedOff() throws {
        var c = Cleanups.none
        c.crlfToLF = true
        var text = "a\r\nb\rc\u{1}"
        #expect(try TextNormalizer(form: .none, cleanups: c).normalize(&text))
        #expect(text == "a\nb\rc\u{1}")
        c = .none
        c.stripControl = true
        text = "\u{FEFF}a\r\nb"
        #expect(try TextNormalizer(form: .none, cleanups: c).normalize(&text))
        #expect(text == "\u{FEFF}a\nb")
        text = "unchanged\n\tplain"
        #expect(try TextNormalizer(form: .nfkc).normalize(&text) == false)
    }

    @Test func longAndEmptyTexts() throws {
        let n = try TextNormalizer(form: .nfd)
        var empty = ""
        #expect(try n.normalize(&empty) == false)
        var long = String(repeating: "\u{E9}中ﬁ", count: 200_000)
        #expect(try n.normalize(&long))
        #expect(long.unicodeScalars.count == 800_000)
    }
}
