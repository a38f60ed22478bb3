using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Trainers.LightGbm;

namespace PosCuda.Coordinator.Audit;

/// <summary>A small classifier (ML.NET) trained on clip features to see what a dataset teaches.</summary>
/// <remarks>Probes are not neural networks: a gradient-boosted tree ensemble and a linear maximum-entropy model.</remarks>
public abstract class ProbeLearner
{
    /// <summary>The learner names <see cref="Parse"/> knows.</summary>
    public static readonly IReadOnlyList<string> Names = ["lightgbm", "maxent"];

    private protected ProbeLearner(string name, string description)
    {
        Name = name;
        Description = description;
    }

    /// <summary>The learner's name.</summary>
    public string Name { get; }

    /// <summary>What it is, in a few words.</summary>
    public string Description { get; }

    /// <summary>The learner called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No learner has that name.</exception>
    public static ProbeLearner Parse(string name) => name switch
    {
        "lightgbm" => new LightGbmProbe(),
        "maxent" => new MaxEntProbe(),
        _ => throw new ArgumentException($"Unknown learner '{name}': use {string.Join(", ", Names)}.", nameof(name)),
    };

    /// <summary>Trains on <paramref name="train"/> and returns the accuracy on each of <paramref name="tests"/>.</summary>
    public IReadOnlyList<double> TrainAndTest(IReadOnlyList<LabelledVector> train, IReadOnlyList<IReadOnlyList<LabelledVector>> tests, int seed)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(tests);
        if (train.Count == 0)
        {
            throw new ArgumentException("No training clips.", nameof(train));
        }

        var ml = new MLContext(seed);
        int dimension = train[0].Features.Length;
        ITransformer model = Pipeline(ml).Fit(ToDataView(ml, train, dimension));
        var accuracies = new List<double>(tests.Count);
        foreach (IReadOnlyList<LabelledVector> test in tests)
        {
            if (test.Count == 0)
            {
                accuracies.Add(double.NaN);
                continue;
            }

            IDataView predictions = model.Transform(ToDataView(ml, test, dimension));
            int correct = 0;
            int i = 0;
            foreach (Prediction prediction in ml.Data.CreateEnumerable<Prediction>(predictions, reuseRowObject: false))
            {
                correct += string.Equals(prediction.PredictedLabel, test[i++].Label, StringComparison.Ordinal) ? 1 : 0;
            }

            accuracies.Add((double)correct / test.Count);
        }

        return accuracies;
    }

    /// <summary>The estimator chain from a <c>Features</c> vector and a string <c>Label</c> to a string <c>PredictedLabel</c>.</summary>
    private protected abstract IEstimator<ITransformer> Trainer(MLContext ml);

    private IEstimator<ITransformer> Pipeline(MLContext ml)
        => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(Trainer(ml))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    private static IDataView ToDataView(MLContext ml, IReadOnlyList<LabelledVector> rows, int dimension)
    {
        SchemaDefinition schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, dimension);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new Row { Features = r.Features, Label = r.Label }), schema);
    }

    /// <summary>One row as ML.NET reads it.</summary>
    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    /// <summary>One prediction as ML.NET writes it.</summary>
    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
    }

    /// <summary>LightGBM multiclass: 60 boosting rounds of 15-leaf trees, learning rate 0.15, 32 bins per feature.</summary>
    private sealed class LightGbmProbe : ProbeLearner
    {
        public LightGbmProbe()
            : base("lightgbm", "LightGBM gradient-boosted trees")
        {
        }

        private protected override IEstimator<ITransformer> Trainer(MLContext ml)
            => ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
            {
                NumberOfIterations = 60,
                NumberOfLeaves = 15,
                LearningRate = 0.15,
                MinimumExampleCountPerLeaf = 5,

                // 32 bins instead of 255: on FSDD's 526 features, 4x faster at the same accuracy.
                MaximumBinCountPerFeature = 32,
                Seed = 1,

                // One thread: LightGBM's OpenMP workers spin while they wait, and on a busy 2-core machine two threads
                // took 18 s where one took 3 s for the same model.
                NumberOfThreads = 1,
                Silent = true,
            });
    }

    /// <summary>Linear maximum entropy (multinomial logistic regression, L-BFGS) on mean-variance normalised features.</summary>
    private sealed class MaxEntProbe : ProbeLearner
    {
        public MaxEntProbe()
            : base("maxent", "linear maximum-entropy (L-BFGS) on normalised features")
        {
        }

        private protected override IEstimator<ITransformer> Trainer(MLContext ml)
            => ml.Transforms.NormalizeMeanVariance("Features")
                .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
                {
                    L2Regularization = 0.1f,
                    L1Regularization = 0f,
                    MaximumNumberOfIterations = 300,
                }));
    }
}
