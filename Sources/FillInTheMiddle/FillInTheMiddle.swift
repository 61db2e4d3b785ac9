// FillInTheMiddle: placeholder until its issue lands; the target exists so the package layout is final.
public enum FillInTheMiddleModule {
    public static let name = "FillInTheMiddle"
}
