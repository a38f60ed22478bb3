namespace PosCuda.Coordinator.Audit;

/// <summary>One learner under one attack.</summary>
/// <param name="Learner">The probe learner.</param>
/// <param name="Attack">The attack on the training clips (<c>none</c> for none).</param>
/// <param name="CleanTrainedOnClean">Accuracy on the clean test split of the learner trained on the clean training split
/// (under the same attack).</param>
/// <param name="ProtectedTrainedOnClean">Accuracy on the clean test split of the learner trained on the protected training split.</param>
/// <param name="ProtectedTrainedOnProtected">Its accuracy on the protected test split.</param>
/// <param name="Seconds">Time to train and test both models.</param>
public sealed record AuditRow(
    string Learner, string Attack, double CleanTrainedOnClean, double ProtectedTrainedOnClean, double ProtectedTrainedOnProtected, double Seconds);
