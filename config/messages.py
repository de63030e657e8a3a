"""Django's message middleware, with the message storage made on first use.

The stock middleware builds the storage (a signed-cookie reader and a session reader, and with
them a cookie signer) on every request; the API and the labeling page's requests never show a
message, and that construction was a measurable part of their CPU. Here the storage is made when
a view or template first touches `request._messages`, and saved only if it was made."""
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # nobody added or read a message: nothing to save
        return super().process_response(request, response)
