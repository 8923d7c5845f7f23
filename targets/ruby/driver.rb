# frozen_string_literal: true

# arcp-conform client driver on the Ruby SDK's client (Arcp::Client), following
# docs/client-driver.md. Runs inside the sid chroot:
#
#   arcp-conform client --target 'targets/ruby/run.sh driver.rb'
#   arcp-conform client --transport stdio --target 'targets/ruby/run.sh driver.rb'
#
# Everything protocol-level (hello, features, heartbeats, pongs) is the SDK's own Arcp::Client;
# this file maps the scenarios onto its API and prints the contract's lines. Where the client has
# no API for something, the driver does the closest thing, marked ADAPTER (see README.md).
# stdout carries those lines only; logs go to stderr.

require 'async'
require 'base64'
require 'json'
require 'arcp'

$stdout.sync = true
ENVV = ENV.to_h
SCENARIO = ENVV.fetch('ARCP_CONFORM_SCENARIO', '')
TOKEN = ENVV.fetch('ARCP_CONFORM_TOKEN', '')
AGENT = ENVV.fetch('ARCP_CONFORM_AGENT', 'echo')
INPUT = JSON.parse(ENVV['ARCP_CONFORM_INPUT'].to_s.empty? ? '{}' : ENVV['ARCP_CONFORM_INPUT'])
JOB = ENVV.fetch('ARCP_CONFORM_JOB', '')
AUTH = { 'scheme' => 'bearer', 'token' => TOKEN }.freeze

def out(line) = $stdout.puts(line)
def log(msg) = warn("driver: #{msg}")

# A transport to the harness: the SDK's WebSocketTransport on ARCP_CONFORM_URL, or (stdio) the
# SDK's StdioTransport on a pipe pair that this driver relays, line for frame, to the same URL.
# The relay is in-process, so nothing from the host (the arcp-conform binary that
# ARCP_CONFORM_RUNTIME_CMD names) has to exist inside the chroot. Closes everything when the
# block returns.
def with_transport(&)
  # ADAPTER: the SDK has no connect helper; docs/transports.md shows this async-websocket call.
  require 'async/http/endpoint'
  require 'async/websocket/client'
  endpoint = Async::HTTP::Endpoint.parse(ENVV.fetch('ARCP_CONFORM_URL'))
  Async::WebSocket::Client.connect(endpoint) do |conn|
    if ENVV.fetch('ARCP_CONFORM_TRANSPORT', 'ws') == 'stdio'
      with_stdio_relay(conn, &)
    else
      yield Arcp::Transport::WebSocketTransport.new(connection: conn)
    end
  end
end

# NDJSON lines the client writes become WebSocket text messages, and back; the client only sees
# the stdio transport.
def with_stdio_relay(conn)
  up_r, up_w = IO.pipe
  down_r, down_w = IO.pipe
  up = Async do
    while (line = up_r.gets)
      conn.write(line.chomp)
      conn.flush
    end
    conn.close # the client closed its side: the harness sees the disconnect
  rescue IOError
    nil
  end
  down = Async do
    while (msg = conn.read)
      down_w.write((msg.respond_to?(:buffer) ? msg.buffer : msg.to_s), "\n")
      down_w.flush
    end
  rescue EOFError, IOError
    nil
  ensure
    down_w.close unless down_w.closed?
  end
  yield Arcp::Transport::StdioTransport.new(input: down_r, output: up_w)
ensure
  [up, down].compact.each(&:stop)
  [up_r, up_w, down_r, down_w].compact.each { |io| io.close unless io.closed? }
end

def open_client(transport, resume: nil)
  Arcp::Client.open(transport: transport, auth: AUTH, client_name: 'arcp-conform-driver', resume: resume)
end

def assembled(chunks)
  data = chunks.sort_by(&:chunk_seq).map do |c|
    c.encoding == 'base64' ? Base64.decode64(c.data) : c.data
  end.join
  JSON.generate(data.dup.force_encoding('UTF-8'))
end

# EVENT lines, then RESULT or ERROR for job_id. Returns :done, or :dropped when the transport
# closed before the outcome.
def see_through(client, job_id)
  chunks = []
  client.subscribe_job(job_id: job_id).each do |ev|
    out("EVENT #{ev.kind}")
    chunks << ev.body if ev.kind == 'result_chunk'
  end
  res = client.get_result(job_id: job_id)
  out(res.result_id ? "RESULT #{assembled(chunks)}" : "RESULT #{JSON.generate(res.result)}")
  :done
rescue Arcp::Errors::ProtocolViolation => e
  raise unless e.message.include?('transport closed')

  :dropped
rescue Arcp::Error => e
  out("ERROR #{e.code}")
  :done
end

def run_scenario(transport)
  client = open_client(transport)
  case SCENARIO
  when 'idle'
    out('IDLE')
    Async::Task.current.sleep(120)
  when 'subscribe'
    unless client.session.supports?('subscribe')
      out('NOT_NEGOTIATED subscribe')
      return 0
    end
    # ADAPTER: the client hands job.subscribed to nobody (no reply waiter), so the driver prints
    # SUBSCRIBED once the subscription is sent.
    stream = client.subscribe_job(job_id: JOB, history: true)
    out("SUBSCRIBED #{JOB}")
    stream.each { |ev| out("EVENT #{ev.kind}") }
    see_through(client, JOB)
  when 'submit', 'cancel', 'resume'
    handle = client.submit_job(agent: AGENT, input: INPUT)
    out("ACCEPTED #{handle.job_id}")
    # No CANCELLED line: the client drops job.cancelled (it is neither an event nor a reply).
    client.cancel_job(job_id: handle.job_id) if SCENARIO == 'cancel'
    return 0 if see_through(client, handle.job_id) == :done
    return 0 unless SCENARIO == 'resume'

    resume_after_drop(client, handle.job_id)
  else
    out("UNSUPPORTED scenario #{SCENARIO}")
  end
  0
rescue Arcp::Error => e
  out("ERROR #{e.code}")
  1
end

# ADAPTER: the client has no resume API; Client.open accepts a `resume` hash for the hello, and
# the last event_seq seen is only in a private ivar (@inbound_seq).
def resume_after_drop(old, job_id)
  last = old.instance_variable_get(:@inbound_seq).to_i
  token = old.session.resume_token
  with_transport do |t|
    client = open_client(t, resume: { 'token' => token, 'last_event_seq' => last })
    out("RESUMED #{last}")
    see_through(client, job_id)
  end
end

code = 0
begin
  Sync do
    with_transport { |t| code = run_scenario(t) }
  end
rescue StandardError => e
  log("#{e.class}: #{e.message}")
  out("FAILED #{e.class}: #{e.message.lines.first&.strip}")
  code = 1
end
exit!(code)
