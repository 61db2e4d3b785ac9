// OUT/stamps/STAGE.json: what `tokenmill demo` records when a stage finishes, so a later run can reuse it
// when the stage's key (inputs, options, tool version) and its outputs (path, size, mtime) are unchanged.
// Written last, it marks the stage done. Foundation's pretty layout with sorted keys, "/" escaped as "\/"
// (ManifestCoding.swift).
import Foundation

public struct DemoStageStamp: Codable, Equatable, Sendable {
    public var stage: String
    /// The SHA-256 of `keyText`.
    public var key: String
    public var keyText: String
    /// The SHA-256 over the outputs' paths and hashes, which downstream stages' keys include.
    public var digest: String
    public var seconds: Double
    public var summary: String
    public var outputs: [Output]

    /// One output as `[path, size, mtime in ms]` (-1 when unknown).
    public struct Output: Codable, Equatable, Sendable {
        public var path: String
        public var size: Int
        public var modifiedMillis: Int
        public init(path: String, size: Int, modifiedMillis: Int) { self.path = path; self.size = size; self.modifiedMillis = modifiedMillis }

        public init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            path = try c.decode(String.self); size = try c.decode(Int.self); modifiedMillis = try c.decode(Int.self)
            guard c.isAtEnd else { throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "expected [path, size, mtime]")) }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(path); try c.encode(size); try c.encode(modifiedMillis)
        }
    }

    public init(stage: String, key: String, keyText: String, digest: String, seconds: Double, summary: String, outputs: [Output]) {
        self.stage = stage; self.key = key; self.keyText = keyText; self.digest = digest; self.seconds = seconds
        self.summary = summary; self.outputs = outputs
    }

    enum CodingKeys: String, CodingKey { case stage, key, keyText = "key_text", digest, seconds, summary, outputs }

    /// The stamp's bytes.
    public var encoded: Data { prettyJSON(self, escapingSlashes: true) }

    /// The stamp at `path` (nil when there is none).
    public static func read(path: String) throws(ManifestError) -> DemoStageStamp? {
        try readManifest(DemoStageStamp.self, path: path)
    }
}
