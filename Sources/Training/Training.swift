// Training: placeholder until its issue lands; the target exists so the package layout is final.
public enum TrainingModule {
    public static let name = "Training"
}
