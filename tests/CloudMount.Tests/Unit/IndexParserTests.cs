using CloudMount.Core.Storage.Http;

namespace CloudMount.Tests.Unit;

/// <summary>Web server index pages as nginx and Apache write them (Apache does not run here, so its page is a sample of mod_autoindex's table).</summary>
public sealed class IndexParserTests
{
    private const string Apache = """
        <!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
        <html>
         <head>
          <title>Index of /data</title>
         </head>
         <body>
        <h1>Index of /data</h1>
          <table>
           <tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>
           <tr><th colspan="5"><hr></th></tr>
        <tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>
        <tr><td valign="top"><img src="/icons/text.gif" alt="[TXT]"></td><td><a href="a.txt">a.txt</a></td><td align="right">2026-11-23 08:40  </td><td align="right">  6 </td><td>&nbsp;</td></tr>
        <tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="big%20file.bin">big file.bin</a></td><td align="right">2026-11-22 17:05  </td><td align="right">293K</td><td>&nbsp;</td></tr>
        <tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="sub/">sub/</a></td><td align="right">2026-11-21 09:00  </td><td align="right">  - </td><td>&nbsp;</td></tr>
           <tr><th colspan="5"><hr></th></tr>
        </table>
        </body></html>
        """;

    [Test]
    public void Apache_table_rows_give_names_dates_and_exact_sizes_only_when_not_rounded()
    {
        var entries = IndexParser.Parse(Apache, "text/html", "data/");
        Assert.That(entries.Select(e => (e.Key, e.IsDirectory, e.Size)), Is.EqualTo(new[]
        {
            ("data/a.txt", false, (long?)6),
            ("data/big file.bin", false, (long?)null),
            ("data/sub/", true, (long?)0),
        }));
        Assert.That(entries[0].Modified, Is.EqualTo(new DateTimeOffset(2026, 11, 23, 8, 40, 0, TimeSpan.Zero)));
    }

    [Test]
    public void Nginx_html_and_json_indexes_agree()
    {
        const string html = """
            <html>
            <head><title>Index of /html/</title></head>
            <body>
            <h1>Index of /html/</h1><hr><pre><a href="../">../</a>
            <a href="sub%20dir/">sub dir/</a>                                           23-Nov-2026 08:40                   -
            <a href="b%26c.bin">b&amp;c.bin</a>                                            23-Nov-2026 08:41                5000
            </pre><hr></body>
            </html>
            """;
        const string json = """
            [
            { "name":"sub dir", "type":"directory", "mtime":"Mon, 23 Nov 2026 08:40:05 GMT" },
            { "name":"b&c.bin", "type":"file", "mtime":"Mon, 23 Nov 2026 08:41:00 GMT", "size":5000 }
            ]
            """;
        var a = IndexParser.Parse(html, "text/html", "");
        var b = IndexParser.Parse(json, "application/json", "");
        Assert.That(a.Select(e => (e.Key, e.IsDirectory, e.Size)), Is.EqualTo(new[] { ("sub dir/", true, (long?)0), ("b&c.bin", false, (long?)5000) }));
        Assert.That(b.Select(e => (e.Key, e.IsDirectory, e.Size)), Is.EqualTo(a.Select(e => (e.Key, e.IsDirectory, e.Size))));
    }

    [Test]
    public void A_page_that_is_no_index_is_an_error()
    {
        Assert.Throws<FormatException>(() => IndexParser.Parse("Just some words, no links.", "text/html", ""));
        Assert.Throws<FormatException>(() => IndexParser.Parse("[{\"nome\": 1}]", "application/json", ""));
        Assert.Throws<FormatException>(() => IndexParser.Parse("%PDF-1.4", "application/pdf", ""));
    }
}
