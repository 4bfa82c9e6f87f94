// The traced rows' OTLP/HTTP receiver, on the load core: takes POST /v1/traces (JSON, as the
// gateway exports), answers at once, and counts the spans it was sent; GET /spans says how many.
import { createServer } from 'node:http';

const SPAN = '"spanId"'; // once per span: "parentSpanId" is spelled with a capital S
let spans = 0;
createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/spans') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ spans }));
    return;
  }
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (body += chunk));
  request.on('end', () => {
    for (let at = body.indexOf(SPAN); at >= 0; at = body.indexOf(SPAN, at + SPAN.length)) spans++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
