using PosCuda.Engine.Processing;

namespace PosCuda.Pipeline.Tests.Engine;

public sealed class MemoryBudgetTests
{
    [Fact]
    public async Task AcquireAsync_MoreThanIsFree_WaitsUntilAGrantIsDisposed()
    {
        var budget = new MemoryBudget(200_000_000);
        MemoryBudget.Grant first = await budget.AcquireAsync(budget.ObjectBytes - 10, CancellationToken.None);

        Task<MemoryBudget.Grant> second = budget.AcquireAsync(100, CancellationToken.None).AsTask();
        Assert.False(second.IsCompleted);

        first.Dispose();
        first.Dispose(); // once only
        using MemoryBudget.Grant granted = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(budget.ObjectBytes - 100, budget.FreeBytes);
    }

    [Fact]
    public async Task AcquireAsync_MoreThanTheWholeBudget_Throws()
    {
        var budget = new MemoryBudget(200_000_000);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => budget.AcquireAsync(budget.ObjectBytes + 1, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task AcquireAsync_Cancelled_GivesUpWaitingAndTakesNothing()
    {
        var budget = new MemoryBudget(200_000_000);
        using MemoryBudget.Grant all = await budget.AcquireAsync(budget.ObjectBytes, CancellationToken.None);
        using var cancel = new CancellationTokenSource();

        Task<MemoryBudget.Grant> waiting = budget.AcquireAsync(1, cancel.Token).AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, budget.FreeBytes);
    }
}
