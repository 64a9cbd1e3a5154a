"""Declares a direct exchange bound to a queue (kombu writes the binding set), for batchctl's tests.

usage: declare_exchange.py EXCHANGE ROUTING_KEY QUEUE
"""
import sys

from kombu import Exchange, Queue

from app import app

exchange_name, routing_key, queue_name = sys.argv[1:4]
with app.connection_for_write() as conn:
    channel = conn.channel()
    Queue(queue_name, Exchange(exchange_name, type="direct"), routing_key=routing_key)(channel).declare()
    channel.close()
print("declared")
