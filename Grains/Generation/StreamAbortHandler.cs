namespace ChatGrains.Generation;

/// <summary>
/// Ties a model's streamed response to its request's cancellation: when the reply is stopped
/// (or goes idle), the response stream is closed at once, which closes the connection, so the
/// model stops generating and no tokens are paid for after stop. Client libraries that read
/// without passing the token on (OllamaSharp reads lines without it) are stopped all the same.
/// </summary>
internal sealed class StreamAbortHandler : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if (!cancellationToken.CanBeCanceled) return response;

        var original = response.Content;
        var content = new StreamContent(new AbortableStream(await original.ReadAsStreamAsync(cancellationToken), cancellationToken));
        foreach (var (name, values) in original.Headers) content.Headers.TryAddWithoutValidation(name, values);
        response.Content = content;
        return response;
    }

    private sealed class AbortableStream : Stream
    {
        private readonly Stream _inner;
        private readonly CancellationTokenRegistration _abort;

        public AbortableStream(Stream inner, CancellationToken cancellationToken)
        {
            _inner = inner;
            // Disposing a response stream that was not read to its end closes the connection
            // (the handler is built with MaxResponseDrainSize = 0, so it never drains instead).
            _abort = cancellationToken.UnsafeRegister(static s =>
            {
                try { ((Stream)s!).Dispose(); }
                catch (Exception) { /* the stream was already closing */ }
            }, inner);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => _inner.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _inner.ReadAsync(buffer, cancellationToken);

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _abort.Dispose();
                _inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
