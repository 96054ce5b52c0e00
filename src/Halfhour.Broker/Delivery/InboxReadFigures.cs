namespace Halfhour.Broker.Delivery;

/// <summary>
/// What a node's inbox readers met that only a store whose latest records were renumbered or dropped causes (a nats-server
/// 2.9 leader change), summed over its subscriptions since the node started; the counters only grow.
/// </summary>
/// <param name="InboxRereads">Inboxes read again after their tail may have been renumbered (<see cref="RecipientSubscription.InboxRereads"/>).</param>
/// <param name="LeasesHandedOutAgain">Messages leased before such a re-read and handed out again after it (<see cref="RecipientSubscription.LeasesHandedOutAgain"/>).</param>
/// <param name="PassedOverMissing">Pointers passed over because their place holds no record.</param>
/// <param name="PassedOverOtherMpan">Pointers passed over because their place holds a message of another MPAN.</param>
/// <param name="PassedOverOtherMessage">Pointers passed over because their place holds another message of the same MPAN.</param>
public sealed record InboxReadFigures(long InboxRereads, long LeasesHandedOutAgain, long PassedOverMissing, long PassedOverOtherMpan, long PassedOverOtherMessage)
{
    /// <summary>Nothing counted.</summary>
    public static readonly InboxReadFigures None = new(0, 0, 0, 0, 0);

    /// <summary>Every pointer passed over, whatever its place held.</summary>
    public long PassedOver => PassedOverMissing + PassedOverOtherMpan + PassedOverOtherMessage;

    /// <summary>The figures of <paramref name="subscriptions"/> together (read without their locks: each counter is a whole value, perhaps a moment old).</summary>
    public static InboxReadFigures Of(IEnumerable<RecipientSubscription> subscriptions)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        var sum = None;
        foreach (var subscription in subscriptions)
        {
            sum += new InboxReadFigures(subscription.InboxRereads, subscription.LeasesHandedOutAgain, subscription.PointersPassedOverFinding(PointerTarget.Missing),
                subscription.PointersPassedOverFinding(PointerTarget.OtherMpan), subscription.PointersPassedOverFinding(PointerTarget.OtherMessage));
        }

        return sum;
    }

    /// <summary>The two sets of figures together (e.g. a node's over two process lives).</summary>
    public static InboxReadFigures operator +(InboxReadFigures a, InboxReadFigures b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return new InboxReadFigures(a.InboxRereads + b.InboxRereads, a.LeasesHandedOutAgain + b.LeasesHandedOutAgain, a.PassedOverMissing + b.PassedOverMissing,
            a.PassedOverOtherMpan + b.PassedOverOtherMpan, a.PassedOverOtherMessage + b.PassedOverOtherMessage);
    }

    /// <summary>The two sets of figures together (<see cref="op_Addition"/>).</summary>
    public static InboxReadFigures Add(InboxReadFigures left, InboxReadFigures right) => left + right;
}
