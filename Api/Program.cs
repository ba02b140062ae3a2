using ChatGrains.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddChatGrainsApi();

var app = builder.Build();
app.MapChatGrainsApi();
app.Run();

/// <summary>The entry point, visible to the functional tests' WebApplicationFactory.</summary>
public partial class Program;
