namespace PosCuda.Shared.Protection;

/// <summary>One patch of a batch handed to an <see cref="IPatchEngine"/>: where its input and its output lie in the batch's buffers.</summary>
/// <param name="InputOffset">The first of its <c>Length + k - 1</c> input samples (the patch with its filter context).</param>
/// <param name="OutputOffset">The first of its <c>Length</c> outputs.</param>
/// <param name="Length">The number of patched samples.</param>
public readonly record struct PatchRegion(int InputOffset, int OutputOffset, int Length);
