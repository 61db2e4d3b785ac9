// Evaluation: placeholder until its issue lands; the target exists so the package layout is final.
public enum EvaluationModule {
    public static let name = "Evaluation"
}
