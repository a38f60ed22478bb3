using System.Globalization;
using ScottPlot;

// Draws docs/efficacy.md's accuracy-vs-SNR frontier from a CSV (spec,label,snr_db,learner,accuracy_percent), one
// series per learner and spec, as a PNG. Usage: dotnet run --project tools/FrontierPlot -- FRONTIER.csv OUT.png
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: FrontierPlot FRONTIER.csv OUT.png");
    return 2;
}

var rows = File.ReadAllLines(args[0])
    .Skip(1)
    .Where(static line => line.Length > 0 && !line.StartsWith('#'))
    .Select(static line => line.Split(','))
    .Select(static f => (Spec: f[0], Label: f[1], Snr: double.Parse(f[2], CultureInfo.InvariantCulture), Learner: f[3],
        Accuracy: double.Parse(f[4], CultureInfo.InvariantCulture)))
    .ToList();

var plot = new Plot();
MarkerShape[] shapes = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond];
int series = 0;
foreach (var group in rows.GroupBy(static r => (r.Spec, r.Learner)).OrderBy(static g => g.Key.Spec, StringComparer.Ordinal).ThenBy(static g => g.Key.Learner, StringComparer.Ordinal))
{
    var points = group.OrderBy(static r => r.Snr).ToList();
    var scatter = plot.Add.Scatter(points.Select(static p => p.Snr).ToArray(), points.Select(static p => p.Accuracy).ToArray());
    scatter.LegendText = $"{group.Key.Spec} {group.Key.Learner}";
    scatter.MarkerShape = shapes[series % shapes.Length];
    scatter.MarkerSize = 9;
    scatter.LineWidth = group.Key.Spec.EndsWith("v1", StringComparison.Ordinal) ? 0 : 1.5f;
    series++;
}

var bar = plot.Add.HorizontalLine(20);
bar.LinePattern = LinePattern.Dashed;
bar.LegendText = "bar: 20%";
var chance = plot.Add.HorizontalLine(10);
chance.LinePattern = LinePattern.Dotted;
chance.LegendText = "chance";
plot.Title("FSDD: clean-test accuracy of learners trained on protected data");
plot.XLabel("whole-clip SNR of the protected set (dB)");
plot.YLabel("clean-test accuracy (%)");
plot.Axes.SetLimitsY(0, 100);
plot.ShowLegend(Edge.Right);
plot.SavePng(args[1], 1100, 560);
Console.WriteLine($"wrote {args[1]} ({rows.Count} points)");
return 0;
