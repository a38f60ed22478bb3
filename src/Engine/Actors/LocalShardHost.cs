using Akka.Actor;
using Akka.Cluster.Sharding;
using PosCuda.Engine.Protocol;
using PosCuda.Shared.Ledger;

namespace PosCuda.Engine.Actors;

/// <summary>Hosts the class shards in one process (<c>poscuda protect</c>): the same entities, routed by the same ids, without a cluster.</summary>
public sealed class LocalShardHost : ReceiveActor
{
    private readonly IWorkLedger _ledger;
    private readonly ClassShardIds _ids = new();

    /// <summary>Creates the host.</summary>
    public LocalShardHost(IWorkLedger ledger)
    {
        _ledger = ledger;
        Receive<IClassMessage>(Route);
        Receive<Passivate>(p => Sender.Tell(p.StopMessage));
    }

    /// <summary>The props of the host.</summary>
    public static Props Props(IWorkLedger ledger) => Akka.Actor.Props.Create(() => new LocalShardHost(ledger));

    private void Route(IClassMessage message)
    {
        string entityId = _ids.EntityId(message)!;
        string name = Uri.EscapeDataString(entityId);
        IActorRef entity = Context.Child(name);
        if (entity.IsNobody())
        {
            entity = Context.ActorOf(ClassShard.Props(entityId, _ledger), name);
        }

        entity.Forward(message);
    }
}
