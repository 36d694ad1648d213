using System.Text.Json.Nodes;
using CloudMount.Core.Storage;
using CloudMount.Core.Storage.Swift;
using CloudMount.Tests.Support;

namespace CloudMount.Tests.Unit;

/// <summary>
/// Swift credentials: the environment as python-swiftclient reads it, the Keystone v3 token exchange against the
/// documented request and response bodies (no Keystone server runs here), and renewal of an expired token
/// against the real Swift.
/// </summary>
public sealed class SwiftAuthTests
{
    [Test]
    public void Environment_picks_keystone_then_v1_and_names_what_is_missing()
    {
        var v3 = SwiftAuth.FromEnvironment(n => n switch
        {
            "OS_AUTH_URL" => "https://keystone.example:5000/v3", "OS_USERNAME" => "ann", "OS_PASSWORD" => "pw",
            "OS_PROJECT_NAME" => "lab", "OS_REGION_NAME" => "RegionTwo", "ST_AUTH" => "http://ignored/auth/v1.0", _ => null,
        });
        Assert.That(v3, Is.EqualTo(new SwiftKeystoneV3(new Uri("https://keystone.example:5000/v3"), "ann", "pw", "lab", "Default", "Default", "RegionTwo")));
        var v1 = SwiftAuth.FromEnvironment(n => n switch { "ST_AUTH" => "http://h/auth/v1.0", "ST_USER" => "a:b", "ST_KEY" => "k", _ => null });
        Assert.That(v1, Is.EqualTo(new SwiftV1Auth(new Uri("http://h/auth/v1.0"), "a:b", "k")));
        Assert.That(SwiftAuth.FromEnvironment(_ => null), Is.Null);
        var e = Assert.Throws<StoreUrlException>(() => SwiftAuth.FromEnvironment(n => n == "ST_AUTH" ? "http://h/auth/v1.0" : n == "ST_USER" ? "u" : null));
        Assert.That(e!.Message, Does.Contain("ST_KEY"));
    }

    [Test]
    public void Keystone_v3_request_body_is_the_documented_password_auth_scoped_to_a_project()
    {
        var auth = new SwiftKeystoneV3(new Uri("https://k/v3"), "ann", "s3cret", "lab", "UDom", "PDom", null);
        var expected = JsonNode.Parse("""
            {"auth": {"identity": {"methods": ["password"],
                                   "password": {"user": {"name": "ann", "domain": {"name": "UDom"}, "password": "s3cret"}}},
                      "scope": {"project": {"name": "lab", "domain": {"name": "PDom"}}}}}
            """);
        Assert.That(JsonNode.DeepEquals(auth.RequestBody(), expected), Is.True, auth.RequestBody().ToJsonString());
    }

    private const string TokenBody = """
        {"token": {"methods": ["password"], "expires_at": "2026-11-24T08:00:00.000000Z",
          "catalog": [
            {"type": "identity", "name": "keystone", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "https://k/v3"}]},
            {"type": "object-store", "name": "swift", "endpoints": [
              {"interface": "internal", "region_id": "RegionOne", "url": "http://10.0.0.5:8080/v1/AUTH_abc"},
              {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "https://swift.one/v1/AUTH_abc"},
              {"interface": "public", "region_id": "RegionTwo", "region": "RegionTwo", "url": "https://swift.two/v1/AUTH_abc/"}]}]}}
        """;

    [Test]
    public void The_storage_url_is_the_public_object_store_endpoint_of_the_region()
    {
        var k = new Uri("https://k/v3");
        Assert.That(SwiftKeystoneV3.StorageUrlFromCatalog(TokenBody, null, k), Is.EqualTo(new Uri("https://swift.one/v1/AUTH_abc")));
        Assert.That(SwiftKeystoneV3.StorageUrlFromCatalog(TokenBody, "RegionTwo", k), Is.EqualTo(new Uri("https://swift.two/v1/AUTH_abc")));
        Assert.Throws<InvalidResponseException>(() => SwiftKeystoneV3.StorageUrlFromCatalog(TokenBody, "RegionNine", k));
        Assert.Throws<InvalidResponseException>(() => SwiftKeystoneV3.StorageUrlFromCatalog("<html>", null, k));
    }

    /// <summary>Hands out a revoked token first, then real ones: the store must renew once and carry on.</summary>
    private sealed record ExpiringAuth(SwiftAuth Real) : SwiftAuth
    {
        public int Calls;
        public override string Source => "test";
        public override async Task<SwiftSession> AuthenticateAsync(HttpClient http, CancellationToken cancellationToken)
        {
            var s = await Real.AuthenticateAsync(http, cancellationToken);
            return Interlocked.Increment(ref Calls) == 1 ? s with { Token = "AUTH_tkexpired0000000000000000000" } : s;
        }
    }

    [Test]
    public async Task An_expired_token_is_renewed_once_and_the_request_repeated()
    {
        var server = await TestServers.Swift;
        string container = await server.NewBucketAsync("reauth");
        var auth = new ExpiringAuth(server.SwiftAuth);
        await using var store = new SwiftObjectStore(container, auth);
        await store.WriteAsync("a.txt", ObjectContent.FromBytes("hello"u8.ToArray()), ObjectWriteOptions.Default, CancellationToken.None);
        Assert.That(auth.Calls, Is.EqualTo(2), "one renewal after the 401");
        await using var r = await store.ReadAsync("a.txt", ByteRange.All, null, CancellationToken.None);
        using var ms = new MemoryStream();
        await r.Content.CopyToAsync(ms);
        Assert.That(ms.ToArray(), Is.EqualTo("hello"u8.ToArray()));
        Assert.That(auth.Calls, Is.EqualTo(2), "the renewed token is kept");
    }
}
