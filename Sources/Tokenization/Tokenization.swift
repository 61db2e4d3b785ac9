// Tokenization: placeholder until its issue lands; the target exists so the package layout is final.
public enum TokenizationModule {
    public static let name = "Tokenization"
}
