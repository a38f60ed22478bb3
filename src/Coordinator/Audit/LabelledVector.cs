namespace PosCuda.Coordinator.Audit;

/// <summary>A clip's feature vector and its class.</summary>
public readonly record struct LabelledVector(float[] Features, string Label);
