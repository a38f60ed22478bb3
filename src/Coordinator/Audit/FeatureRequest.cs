using PosCuda.Shared.Ledger;

namespace PosCuda.Coordinator.Audit;

/// <summary>Feature vectors wanted for some objects of one store, under one attack.</summary>
/// <param name="Name">A name for logs and reports (e.g. <c>protected/train/eq</c>).</param>
/// <param name="Items">The objects.</param>
/// <param name="Attack">The attack applied before features; null for none.</param>
public sealed record FeatureRequest(string Name, IReadOnlyList<PlannedObject> Items, AudioAttack? Attack);
