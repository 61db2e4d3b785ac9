// Packing: placeholder until its issue lands; the target exists so the package layout is final.
public enum PackingModule {
    public static let name = "Packing"
}
