using ChatGrains.Silo;

var builder = Host.CreateApplicationBuilder(args);
builder.AddConversationSilo();
await builder.Build().RunAsync();
