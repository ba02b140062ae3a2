using System.Reflection;

namespace ChatGrains.Tests.Infrastructure;

[Trait("Category", TestCategory.Unit)]
public sealed class EveryTestClassHasACategory
{
    private static readonly string[] Categories =
        [TestCategory.Unit, TestCategory.Store, TestCategory.Grains, TestCategory.Api, TestCategory.Cluster, TestCategory.Web];

    [Fact]
    public void Every_test_class_names_one_category_of_its_own()
    {
        var testClasses = typeof(EveryTestClassHasACategory).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.GetMethods().Any(m => m.GetCustomAttributes<FactAttribute>(inherit: true).Any()))
            .ToList();
        Assert.True(testClasses.Count > 50, $"only {testClasses.Count} test classes found: the search itself is wrong");

        // Declared on the class itself: the runner does not read a trait from a base class.
        var unlabelled = testClasses
            .Where(t => t.GetCustomAttributesData()
                .Where(a => a.AttributeType == typeof(TraitAttribute) && (string?)a.ConstructorArguments[0].Value == "Category")
                .Select(a => (string?)a.ConstructorArguments[1].Value)
                .Distinct().Count(c => Categories.Contains(c)) != 1)
            .Select(t => t.FullName)
            .Order();
        Assert.Empty(unlabelled);
    }
}
