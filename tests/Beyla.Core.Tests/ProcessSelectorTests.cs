namespace Beyla.Tests;

public sealed class ProcessSelectorTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    [InlineData(int.MaxValue)]
    public void PortOutsideOneTo65535IsRejected(int port)
    {
        var selector = new ProcessSelector();

        Assert.Throws<ArgumentOutOfRangeException>(() => selector.ListeningOn(port));
        Assert.Empty(selector.Ports);
        Assert.True(selector.IsAll);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(65535)]
    public void PortAtTheLimitsIsAccepted(int port)
    {
        var selector = new ProcessSelector().ListeningOn(port);

        Assert.Equal([port], selector.Ports);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-42)]
    public void PidThatIsNotPositiveIsRejected(int pid)
    {
        var selector = new ProcessSelector();

        Assert.Throws<ArgumentOutOfRangeException>(() => selector.ProcessId(pid));
        Assert.Empty(selector.ProcessIds);
    }

    [Theory]
    [InlineData("/usr/bin/nginx")]
    [InlineData("bin/nginx")]
    [InlineData("nginx/")]
    public void ExecutableNameWithADirectoryIsRejected(string name)
    {
        var selector = new ProcessSelector();

        ArgumentException ex = Assert.Throws<ArgumentException>(() => selector.ExecutableName(name));

        Assert.Equal("name", ex.ParamName);
        Assert.Empty(selector.ExecutableNames);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\t")]
    public void EmptyExecutableNameIsRejected(string name)
    {
        var selector = new ProcessSelector();

        Assert.ThrowsAny<ArgumentException>(() => selector.ExecutableName(name));
        Assert.Empty(selector.ExecutableNames);
    }

    [Fact]
    public void NullExecutableNameIsRejected()
    {
        Assert.Throws<ArgumentNullException>(() => new ProcessSelector().ExecutableName(null!));
    }

    [Fact]
    public void EmptySelectorSelectsEverything()
    {
        Assert.True(new ProcessSelector().IsAll);
    }

    [Fact]
    public void AnyCriterionNarrowsTheSelection()
    {
        Assert.False(new ProcessSelector().ListeningOn(80).IsAll);
        Assert.False(new ProcessSelector().ProcessId(1).IsAll);
        Assert.False(new ProcessSelector().ExecutableName("dotnet").IsAll);
        Assert.False(new ProcessSelector().Current().IsAll);
    }

    [Fact]
    public void AllWinsOverOtherCriteria()
    {
        var before = new ProcessSelector().All().ListeningOn(80);
        var after = new ProcessSelector().ListeningOn(80).All();

        Assert.True(before.IsAll);
        Assert.True(after.IsAll);
        Assert.Equal([80], after.Ports);
    }

    [Fact]
    public void CriteriaAddUpWithoutDuplicates()
    {
        var selector = new ProcessSelector()
            .ListeningOn(80).ListeningOn(443).ListeningOn(80)
            .ProcessId(10).Current()
            .ExecutableName("nginx").ExecutableName("Nginx").ExecutableName("nginx");

        Assert.Equal([80, 443], selector.Ports.Order());
        Assert.Equal(new List<int> { 10, Environment.ProcessId }.Order(), selector.ProcessIds.Order());
        // Names are compared exactly: Linux file names are case-sensitive.
        Assert.Equal(["Nginx", "nginx"], selector.ExecutableNames.Order(StringComparer.Ordinal));
    }
}
