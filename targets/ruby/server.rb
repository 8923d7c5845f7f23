# frozen_string_literal: true

# ARCP v1.1 runtime on the Ruby SDK (github agentruntimecontrolprotocol/ruby-sdk, `require 'arcp'`),
# hosting the arcp-conform `conformance` and `echo` agents (CONFORMANCE.md).
#
#   run.sh server.rb --stdio               one session over NDJSON on stdin/stdout; exit when stdin closes
#   run.sh server.rb --ws 127.0.0.1:PORT   WebSocket at ws://127.0.0.1:PORT/ (any path) until SIGTERM
#     [--heartbeat SEC] (default 3, env ARCP_HEARTBEAT_SEC)  [--resume-window SEC] (default 20)
#
# Everything protocol-level (handshake, auth, features, event_seq, leases, budgets, credentials,
# resume, subscribe, list_jobs, cancel) is the SDK's own (Arcp::Runtime::Runtime, SessionActor,
# JobContext). This file configures the runtime and implements the scripted agent on the SDK's
# agent API. Where the SDK has no API for something, the agent does the closest thing; each such
# place is marked ADAPTER and listed in README.md. stdout carries protocol frames only.

require 'async'
require 'base64'
require 'json'
require 'logger'
require 'net/http'
require 'optparse'
require 'securerandom'
require 'arcp'

LOG = Logger.new($stderr, level: ENV.fetch('ARCP_LOG_LEVEL', 'WARN').upcase,
                          progname: 'arcp-conform.ruby')
WAIT_LIMIT_SEC = 3600 # `wait` gives up after an hour, like the reference runtime

TOKENS = {
  'tok-alice' => Arcp::Auth::Principal.new(id: 'alice', name: 'alice', scopes: [].freeze),
  'tok-alice-2' => Arcp::Auth::Principal.new(id: 'alice', name: 'alice', scopes: [].freeze),
  'tok-bob' => Arcp::Auth::Principal.new(id: 'bob', name: 'bob', scopes: [].freeze)
}.freeze

# Deployment-side provisioner: one gateway credential (random value, never reused, §9.8.2) when
# the lease is cost-bearing (model.use or cost.budget), like the reference runtime; none otherwise.
class GatewayProvisioner
  include Arcp::CredentialProvisioner

  def issue(lease:, job_id:, agent:, principal_id:)
    _ = [agent, principal_id]
    return [] unless lease && (lease.model_use || lease.budget)

    [Arcp::Credential.new(id: "cred_#{SecureRandom.hex(8)}", scheme: Arcp::Credential::SCHEME_BEARER,
                          value: "sk-#{SecureRandom.hex(16)}", endpoint: 'https://gateway.invalid/v1',
                          profile: 'openai', constraints: GatewayProvisioner.constraints(lease))]
      .tap { |creds| ISSUED.remember(creds) }
      .tap { LOG.debug("issued credential for #{job_id}") }
  end

  def revoke(credential_id:)
    LOG.debug("revoked #{credential_id}")
    true
  end

  def self.constraints(lease)
    constraints = {}
    constraints['cost.budget'] = lease.budget.to_a if lease.budget
    constraints['model.use'] = lease.model_use if lease.model_use
    constraints['expires_at'] = lease.expires_at if lease.expires_at
    constraints
  end
end

# ADAPTER: the credential upstream the harness plays (CONFORMANCE.md, "The credential upstream").
# With ARCP_CONFORM_UPSTREAM set, the SDK's CredentialProvisioner issues and revokes there; the SDK
# itself decides when to revoke and how often to retry (CredentialRegistry), which is what the
# credentials.revocation.* cases measure. Errors raise, so the SDK sees them and retries.
UPSTREAM = ENV.fetch('ARCP_CONFORM_UPSTREAM', '').chomp('/')
STATE_DIR = ENV.fetch('ARCP_CONFORM_STATE_DIR', '')

class UpstreamProvisioner
  include Arcp::CredentialProvisioner

  def issue(lease:, job_id:, agent:, principal_id:)
    return [] unless lease && (lease.model_use || lease.budget)

    r = call('/v1/credentials', { 'job_id' => job_id, 'principal' => principal_id, 'agent' => agent })
    [Arcp::Credential.new(id: r['id'], scheme: r.fetch('scheme', Arcp::Credential::SCHEME_BEARER),
                          value: r['value'], endpoint: r['endpoint'],
                          constraints: GatewayProvisioner.constraints(lease))]
      .tap { |creds| ISSUED.remember(creds) }
  end

  def revoke(credential_id:)
    call("/v1/credentials/#{credential_id}/revoke")
    true
  end

  # Not part of the SDK's CredentialProvisioner (it has no rotate): the agent's rotate_credential
  # op asks for the new value here, then hands it to JobContext#rotate_credential.
  def rotate(credential_id)
    call("/v1/credentials/#{credential_id}/rotate").fetch('value')
  end

  private

  def call(path, body = {})
    uri = URI("#{UPSTREAM}#{path}")
    res = Net::HTTP.start(uri.host, uri.port, open_timeout: 5, read_timeout: 5) do |http|
      http.post(uri.path, JSON.generate(body), 'content-type' => 'application/json')
    end
    raise "upstream #{path.sub(/cred[^\/]*/, '{id}')}: HTTP #{res.code}" unless res.code.start_with?('2')

    res.body.to_s.empty? ? {} : JSON.parse(res.body)
  end
end

# ADAPTER: JobContext exposes no credentials (neither ids nor values), so an agent cannot present
# what its job was issued. The provisioners remember what they issued (id -> Arcp::Credential) for
# the agent's use_credential op; the value stays in this process.
class IssuedCredentials
  def initialize
    @by_id = {}
    @mutex = Mutex.new
  end

  def remember(creds) = @mutex.synchronize { creds.each { |c| @by_id[c.id] = c } }
  def [](id) = @mutex.synchronize { @by_id[id] }

  def rotated(id, value)
    @mutex.synchronize do
      c = @by_id[id]
      @by_id[id] = Arcp::Credential.new(id: c.id, scheme: c.scheme, value: value, endpoint: c.endpoint,
                                        profile: c.profile, constraints: c.constraints) if c
    end
  end
end
ISSUED = IssuedCredentials.new

# The SDK's Arcp::Credentials::CredentialStore in a JSON file (job id -> credential ids, no values),
# so a restarted process finds what its predecessor left outstanding. The SDK's own
# CredentialRegistry#reconcile_on_startup! (run by Runtime.new) then revokes it (§14).
class FileCredentialStore < Arcp::Credentials::CredentialStore
  def initialize(path)
    super()
    @path = path
    @mutex = Mutex.new
  end

  def record(job_id:, credential_id:) = update { |h| h[job_id] = (h.fetch(job_id, []) | [credential_id]) }

  def forget(job_id:, credential_id:)
    update do |h|
      ids = h.fetch(job_id, []) - [credential_id]
      if ids.empty?
        h.delete(job_id)
      else
        h[job_id] = ids
      end
    end
  end

  def outstanding(job_id:) = @mutex.synchronize { load.fetch(job_id, []).freeze }
  def all_outstanding = @mutex.synchronize { load.transform_values(&:freeze).freeze }

  private

  def load
    JSON.parse(File.read(@path))
  rescue Errno::ENOENT, JSON::ParserError
    {}
  end

  def update
    @mutex.synchronize do
      h = load
      yield h
      tmp = "#{@path}.tmp"
      File.write(tmp, JSON.generate(h))
      File.rename(tmp, @path)
    end
    nil
  end
end

# The scripted conformance agent (CONFORMANCE.md), one instance per job.
class ConformanceAgent
  def initialize(ctx, runtime)
    @ctx = ctx
    @rt = runtime
  end

  def run
    input = @ctx.input.is_a?(Hash) ? @ctx.input : {}
    Array(input['steps']).each do |step|
      step = {} unless step.is_a?(Hash)
      op = step['op']
      case op
      when 'finish' then return finish(step)
      when 'fail' then return fail_job(step)
      when 'event', 'log', 'progress', 'cost', 'tool', 'model', 'delegate', 'result_chunks',
           'rotate_credential', 'use_credential', 'crash', 'sleep', 'wait'
        send("op_#{op}", step)
      else
        @ctx.log(level: 'warn', message: "unknown op #{op.inspect} skipped")
      end
    end
    finish({})
  end

  private

  def op_event(step)
    @ctx.emit(kind: step['kind'].to_s, body: step['body'] || {})
  end

  def op_log(step)
    @ctx.log(level: step['level'] || 'info', message: step['message'].to_s)
  end

  def op_progress(step)
    current = step['current']
    # A negative `current` is the agent's error: the runtime must not emit it (§8.2.1).
    # ADAPTER: the SDK's JobContext#progress emits whatever it is given, so the agent filters.
    if !current.is_a?(Numeric) || current.negative?
      @ctx.log(level: 'warn', message: 'progress with negative current not emitted')
      return
    end
    @ctx.progress(current: current, total: step['total'], units: step['units'], message: step['message'])
  end

  def op_cost(step)
    value = step['value']
    if !value.is_a?(Numeric) || value.negative?
      @ctx.log(level: 'warn', message: 'negative or malformed cost rejected')
      return
    end
    @ctx.metric(name: step['name'] || 'cost.inference', value: value, unit: step['unit'] || 'USD')
  end

  def new_call_id = "call_#{SecureRandom.hex(6)}"

  # tool_call first, then authorization against the lease, then tool_result (CONFORMANCE.md).
  def guarded(tool, args)
    call_id = new_call_id
    @ctx.emit(kind: 'tool_call', body: Arcp::Job::EventBody::ToolCall.new(call_id: call_id, tool: tool, args: args))
    yield
    call_id
  rescue Arcp::Errors::LeaseExpired => e
    tool_error(call_id, e)
    # §9.5: after LEASE_EXPIRED the job ends with job.error LEASE_EXPIRED.
    raise
  rescue Arcp::Error => e
    tool_error(call_id, e)
    nil
  end

  def tool_error(call_id, err)
    @ctx.tool_result(call_id: call_id, error: { 'code' => err.code, 'message' => err.message,
                                                'retryable' => err.retryable? })
  end

  def op_tool(step)
    if step['capability']
      # ADAPTER: the SDK's lease is a flat capability-name list (`lease_request.capabilities`);
      # it has no resource/pattern check, so only the namespace is authorized.
      tool = step['capability']
      cap = step['capability']
      args = step['args'] || { 'resource' => step['resource'] }
    else
      tool = step['tool'].to_s
      cap = 'tool.call'
      args = step['args'] || {}
    end
    call_id = guarded(tool, args) { @ctx.authorize!(cap) }
    return unless call_id

    @ctx.tool_result(call_id: call_id, result: step.key?('result') ? step['result'] : nil)
    op_cost(step['cost']) if step['cost'].is_a?(Hash)
  end

  def op_model(step)
    model = step['model'].to_s
    call_id = guarded('model.invoke', { 'model' => model }) { @ctx.use_model!(model) }
    return unless call_id

    @ctx.tool_result(call_id: call_id, result: { 'model' => model })
    op_cost(step['cost']) if step['cost'].is_a?(Hash)
  end

  # ADAPTER: the SDK has no runtime-side delegation API (its delegate sample only emits the event).
  # The agent authorizes agent.delegate, bounds the child lease with Lease::Subsetting.bound, emits
  # the delegate event and starts the child through the JobManager (no parent_job_id: the SDK's
  # job records have no such field).
  def op_delegate(step)
    agent = step['agent'].to_s
    call_id = guarded('agent.delegate', { 'agent' => agent }) do
      @ctx.authorize!('agent.delegate')
      parent = @ctx.lease
      request = Arcp::Lease::LeaseRequest.from_h(step['lease'] || {})
      child = if parent
                remaining = @rt.lease_manager.remaining(@ctx.job_id)
                Arcp::Lease::Subsetting.bound(parent: parent, request: request, parent_remaining: remaining)
              end
      child_job_id = start_child(agent, step['input'], step['lease'], step['lease_constraints'])
      body = Arcp::Job::EventBody::Delegate.new(child_job_id: child_job_id, agent: agent, lease: child)
      @ctx.emit(kind: 'delegate', body: body)
      @child_job_id = child_job_id
    end
    @ctx.tool_result(call_id: call_id, result: { 'child_job_id' => @child_job_id, 'agent' => agent }) if call_id
  end

  def start_child(agent, input, lease, constraints)
    record = @rt.job_manager.lookup(@ctx.job_id)
    actor = record && @rt.session(record.submitter_session_id)
    submit = Arcp::Job::Submit.from_h({ 'agent' => agent, 'input' => input, 'lease_request' => lease,
                                        'lease_constraints' => constraints })
    result = @rt.job_manager.submit(submit: submit, principal_id: record.principal_id,
                                    session_id: record.submitter_session_id, session_actor: actor)
    result.is_a?(Array) ? result.first : result
  end

  # One result per job: later result_chunks steps continue the same result_id and chunk_seq.
  def op_result_chunks(step)
    encoding = step['encoding'] || 'utf8'
    chunks = Array(step['chunks']).map(&:to_s)
    return if chunks.empty?

    last = step.fetch('last', true)
    @writer ||= @ctx.stream_result(encoding: encoding)
    chunks.each_with_index do |c, i|
      # The writer encodes with the encoding of its first step: hand it the raw bytes.
      raw = encoding == 'base64' ? Base64.decode64(c) : c
      @writer.write(raw, more: !(last && i == chunks.size - 1))
    end
  end

  def op_rotate_credential(_step)
    cred = current_credentials.first
    unless cred
      @ctx.log(level: 'warn', message: 'rotate_credential: job has no credential')
      return
    end
    prov = @rt.credential_registry.instance_variable_get(:@provisioner)
    value = prov.respond_to?(:rotate) ? prov.rotate(cred) : "sk-#{SecureRandom.hex(16)}"
    ISSUED.rotated(cred, value)
    # The SDK revokes the id (CredentialRegistry#rotate -> provisioner.revoke(credential_id:)),
    # records a new id of its own making and announces that id without the value.
    @ctx.rotate_credential(id: cred, new_value: value)
  end

  # Present the job's first credential at its endpoint (+ path), or at `url`; log the status only.
  def op_use_credential(step)
    cred = current_credentials.filter_map { |id| ISSUED[id] }.first
    unless cred
      @ctx.log(level: 'warn', message: 'use_credential: job has no credential')
      return
    end
    url = step['url'] || "#{cred.endpoint}#{step['path']}"
    status = begin
      uri = URI(url)
      Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == 'https', open_timeout: 5, read_timeout: 5) do |http|
        http.get(uri.request_uri, 'authorization' => "Bearer #{cred.value}").code
      end
    rescue StandardError => e
      e.class.name
    end
    @ctx.log(level: 'info', message: "credential #{cred.id} presented: #{status}")
  end

  # The process dies as a crashed one would: nothing revoked, no terminal message.
  def op_crash(_step)
    $stdout.flush
    exit!(70)
  end

  # ADAPTER: JobContext exposes no credentials; the ids come from the credential store the
  # runtime was configured with (outstanding ids of this job).
  def current_credentials = Array(CRED_STORE.outstanding(job_id: @ctx.job_id))

  def op_sleep(step) = sleep_ms(step['ms'].to_i)

  def op_wait(_step) = sleep_ms(WAIT_LIMIT_SEC * 1000)

  def sleep_ms(ms)
    Async::Task.current.sleep(ms / 1000.0)
  end

  def finish(step)
    if @writer
      # A streamed result: job.result references it (the SDK closes the writer) and carries no
      # inline result.
      @ctx.finish
    else
      @ctx.finish(result: step['result'])
    end
  end

  # The SDK's error class for the code: its runner turns it into job.error with the class's own
  # retryable default (§12: INTERNAL_ERROR is always retryable).
  def fail_job(step)
    raise Arcp::Errors.for(step['code'] || 'INTERNAL_ERROR', message: step['message'] || 'failed by script')
  end
end

CRED_STORE = if !UPSTREAM.empty? && !STATE_DIR.empty?
               FileCredentialStore.new(File.join(STATE_DIR, 'credentials.json'))
             else
               Arcp::Credentials::InMemoryStore.new
             end

def make_runtime(heartbeat:, resume_window:)
  rt = Arcp::Runtime::Runtime.new(
    auth_verifier: Arcp::Auth::Bearer.new(tokens: TOKENS),
    name: 'arcp-ruby-sdk', heartbeat_interval_sec: heartbeat, resume_window_sec: resume_window,
    credential_provisioner: UPSTREAM.empty? ? GatewayProvisioner.new : UpstreamProvisioner.new,
    credential_store: CRED_STORE
  )
  rt.register_agent(name: 'conformance', versions: ['1.0.0', '2.0.0'], default: '2.0.0',
                    handler: ->(ctx) { accepted_first { ConformanceAgent.new(ctx, rt).run } })
  rt.register_agent(name: 'echo', versions: ['1.0.0'], default: '1.0.0',
                    handler: ->(ctx) { accepted_first { ctx.finish(result: ctx.input) } })
  rt
end

# ADAPTER: JobManager#submit starts the agent's task (Async do ... end) before SessionActor
# enqueues job.accepted, so an agent that emits before its first fiber switch gets its events and
# even its job.result onto the wire ahead of job.accepted. Yielding once lets job.accepted go first.
# ARCP_RUBY_NO_YIELD=1 shows the SDK's own order.
def accepted_first
  Async::Task.current.yield unless ENV['ARCP_RUBY_NO_YIELD'] == '1'
  yield
end

def serve_stdio(rt)
  Sync do
    rt.accept(Arcp::Transport::StdioTransport.new(input: $stdin, output: $stdout)).wait
  rescue StandardError => e
    # The session died on an SDK exception: say so in the exit status, like the SDK's own samples.
    LOG.error("session ended: #{e.class}: #{e.message}")
    exit 1
  end
end

# ADAPTER: the SDK ships no WebSocket server (docs/transports.md: "pair with falcon"); this is
# async-http's server with async-websocket's HTTP adapter, one SDK session per connection.
def serve_ws(rt, host, port)
  require 'async/http/server'
  require 'async/http/endpoint'
  require 'async/websocket/adapters/http'
  endpoint = Async::HTTP::Endpoint.parse("http://#{host}:#{port}")
  app = lambda do |request|
    Async::WebSocket::Adapters::HTTP.open(request) do |conn|
      rt.accept(Arcp::Transport::WebSocketTransport.new(connection: conn)).wait
    rescue StandardError => e
      LOG.warn("session ended: #{e.class}: #{e.message}")
    end || Protocol::HTTP::Response[404, {}, ['not a websocket']]
  end
  Sync do
    Async::HTTP::Server.new(app, endpoint).run
    LOG.info("listening on ws://#{host}:#{port}/")
  end
end

opts = { heartbeat: Integer(ENV.fetch('ARCP_HEARTBEAT_SEC', '3')),
         resume_window: Integer(ENV.fetch('ARCP_RESUME_WINDOW_SEC', '20')) }
OptionParser.new do |o|
  o.on('--stdio') { opts[:mode] = :stdio }
  o.on('--ws HOST:PORT') { |v| opts[:mode] = :ws; opts[:addr] = v }
  o.on('--heartbeat SEC', Integer) { |v| opts[:heartbeat] = v }
  o.on('--resume-window SEC', Integer) { |v| opts[:resume_window] = v }
end.parse!
%w[TERM INT].each { |s| Signal.trap(s) { exit!(0) } }
rt = make_runtime(heartbeat: opts[:heartbeat], resume_window: opts[:resume_window])
case opts[:mode]
when :stdio then serve_stdio(rt)
when :ws
  host, port = opts[:addr].split(':', 2)
  serve_ws(rt, host, Integer(port))
else
  warn 'usage: server.rb --stdio | --ws HOST:PORT'
  exit 2
end
