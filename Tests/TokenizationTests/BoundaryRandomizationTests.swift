// Token-boundary randomization: punctuation + line-break pre-tokens are split with the given
// probability, deterministically per seed and text, and decoding still gives the text back.
import Testing
@testable import Tokenization

@Test func splitsPunctuationNewlineTokens() throws {
    let texts = ["Hello!\n", "a.\n\nb", "x \"?\r\n"]
    let tok = try Tokenizer.fromHuggingFaceJSON(#"{"model":{"type":"BPE","vocab":{"!":0,"Ċ":1,"!Ċ":2,"a":3,".":4,"ĊĊ":5,".ĊĊ":6,"b":7,"H":8,"e":9,"l":10,"o":11,"x":12,"Ġ":13,"\"":14,"?":15,"č":16},"merges":["! Ċ","Ċ Ċ",". ĊĊ"]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}}"#)
    #expect(tok.preTokenizer.name == "llama3")
    let plain = try tok.makeEncoder()
    let always = try tok.makeEncoder()
    always.splitPunctuationNewline = 1
    #expect(try plain.encode("Hello!\n") == [8, 9, 10, 10, 11, 2])
    #expect(try always.encode("Hello!\n") == [8, 9, 10, 10, 11, 0, 1])
    #expect(try always.encode("a.\n\nb") == [3, 4, 5, 7])
    let half1 = try tok.makeEncoder(), half2 = try tok.makeEncoder()
    half1.splitPunctuationNewline = 0.5; half1.seed = 7
    half2.splitPunctuationNewline = 0.5; half2.seed = 7
    for t in texts {
        let a = try half1.encode(t), b = try half2.encode(t)
        #expect(a == b)
        #expect(try tok.decode(a) == t)
    }
}
