// The TOML subset config files use (`parseTOML`): values as JSONSerialization gives them, and every
// refused construct an error naming the file and the line.
import CorpusIO
import Foundation
import Testing

@Suite struct TOMLTests {
    @Test func valuesComeOutAsJSONSerializationsWould() throws {
        let text = """
        # a comment
        inputs = ["a.jsonl", 'b\\c.jsonl',   # trailing comment
          "c\\u00e9\\n",]
        output = "data/train"
        big = 9_223_372_036_854_775_807
        rate = 1.5e-1
        on = true
        point = {x = 1, "y z" = -2}
        [pack]
        seq_len = 2048
        [a.b]
        c.d = "deep"
        """
        let root = try parseTOML(Array(text.utf8), path: "t.toml")
        let json = #"{"inputs": ["a.jsonl", "b\\c.jsonl", "cé\n"], "output": "data/train", "big": 9223372036854775807, "rate": 0.15,"#
            + #" "on": true, "point": {"x": 1, "y z": -2}, "pack": {"seq_len": 2048}, "a": {"b": {"c": {"d": "deep"}}}}"#
        let expected = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        func canonical(_ o: [String: Any]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }
        #expect(try canonical(root) == canonical(expected))
        #expect((root["on"] as? Bool) == true)
    }

    @Test(arguments: [
        ("a = 1\nb = \"\"\"x\"\"\"\n", 2, "multi-line strings"),
        ("a = 1\n\n[[t]]\n", 3, "arrays of tables"),
        ("a = 0x1F\n", 1, "hexadecimal"),
        ("a = 1979-05-27\n", 1, "dates and times"),
        ("a = nan\n", 1, "inf and nan"),
        ("a = 1\na = 2\n", 2, "duplicate key 'a'"),
        ("a.b = 1\na.b.c = 2\n", 2, "'a.b' is already a value, not a table"),
        ("[t]\nx = 1\n[t.x]\n", 3, "'t.x' is already a value, not a table"),
        ("[t]\nx = 1\n[t]\n", 3, "defined twice"),
        ("a = [1,\n2\n", 1, "unterminated array"),
        ("a = \"open\n", 1, "unterminated string"),
        ("a = bare\n", 1, "strings need quotes"),
    ])
    func refusedConstructsNameTheLine(_ text: String, _ line: Int, _ message: String) {
        #expect {
            _ = try parseTOML(Array(text.utf8), path: "c.toml")
        } throws: { error in
            guard let e = error as? ConfigFileError else { return false }
            return e.path == "c.toml" && e.line == line && e.message.contains(message) && "\(e)".hasPrefix("c.toml:\(line): ")
        }
    }

    @Test func theFormatFollowsTheExtensionElseTheContent() throws {
        #expect(isTOMLConfig(Data("{}".utf8), path: "x.TOML"))
        #expect(!isTOMLConfig(Data("a = 1".utf8), path: "x.json"))
        #expect(!isTOMLConfig(Data(" \n{\"a\": 1}".utf8), path: "config"))
        #expect(isTOMLConfig(Data("a = 1".utf8), path: "config"))
        #expect(try readConfigObject(Data("a = 1".utf8), path: "config")["a"] as? Int == 1)
        #expect { _ = try readConfigObject(Data("[1]".utf8), path: "x.json") } throws: { "\($0)" == "x.json: not a JSON object" }
    }
}
