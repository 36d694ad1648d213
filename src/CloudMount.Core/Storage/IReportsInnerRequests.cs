namespace CloudMount.Core.Storage;

/// <summary>
/// A backend that makes requests of its own inside one operation (a HEAD per rounded size in a web index, per
/// dynamic-large-object manifest in a Swift listing). It reports them here so request counts stay true.
/// </summary>
public interface IReportsInnerRequests
{
    /// <summary>Called once per inner request with its kind; set by whoever counts (StoreFactory).</summary>
    Action<Decorators.RequestKind>? InnerRequest { get; set; }
}
