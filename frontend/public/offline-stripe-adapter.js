/*
 * Offline mode only: bridges localstripe's Stripe.js stand-in to the parts of
 * Stripe.js's public API that EventPay uses, so the app's code is the same
 * online and offline. Loaded after the stand-in, before loadStripe() runs.
 *
 * Why it is needed: the stand-in ignores elements({clientSecret}), has no
 * confirmPayment or retrievePaymentIntent, its elements lack off/update and
 * never fire "ready", and the browser cannot call localstripe itself (a pk_
 * key gets 401, CORS blocks our headers). So every call goes through
 * /api/payments/offline-stripe/, a same-origin route that exists only while
 * the backend runs offline; it checks the client secret against the intent
 * and adds the secret key.
 */
(function () {
  'use strict';

  var StandIn = window.Stripe;
  if (typeof StandIn !== 'function') {
    console.error('offline-stripe-adapter: load localstripe\'s stand-in first.');
    return;
  }

  var ROUTE = '/api/payments/offline-stripe/';
  // The stand-in's inputs, by placeholder, with the accessible names it does not give them.
  var CARD_FIELDS = {
    number: 'Card number',
    exp_month: 'Expiry month (MM)',
    exp_year: 'Expiry year (YY)',
    cvc: 'Security code (CVC)',
    postal_code: 'Postal code',
  };

  function cardInput(field) {
    return document.querySelector('input[placeholder="' + field + '"]');
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(';') : [];
    for (var i = 0; i < parts.length; i++) {
      var pair = parts[i].trim().split('=');
      if (pair[0] === name) return decodeURIComponent(pair.slice(1).join('='));
    }
    return '';
  }

  function intentId(clientSecret) {
    var match = /^(pi_[A-Za-z0-9]+)_secret_/.exec(clientSecret || '');
    return match ? match[1] : null;
  }

  function stripeError(type, code, message) {
    return { type: type, code: code, message: message };
  }

  // Stripe-style form-encoded call through our route; resolves the object or rejects with Stripe's error shape.
  async function call(method, path, params) {
    var query = new URLSearchParams(params).toString();
    var init = {
      method: method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-CSRFToken': readCookie('csrftoken') },
    };
    var url = ROUTE + path;
    if (method === 'GET') {
      url += '?' + query;
    } else {
      init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init.body = query;
    }
    var response;
    try {
      response = await fetch(url, init);
    } catch {
      throw stripeError('api_connection_error', 'network', 'Could not reach the payment server.');
    }
    var body = await response.json().catch(function () {
      return {};
    });
    if (!response.ok || body.error) {
      var error = body.error || stripeError('api_error', 'http_' + response.status, body.detail || 'The payment server answered ' + response.status + '.');
      // localstripe labels a decline invalid_request_error; Stripe answers 402 with a card_error.
      if (response.status === 402) error.type = 'card_error';
      throw error;
    }
    return body;
  }

  function asResult(promise, key) {
    return promise.then(
      function (object) {
        var result = {};
        result[key] = object;
        return result;
      },
      function (error) {
        return { error: error };
      },
    );
  }

  // react-stripe-js calls off() on cleanup and waits for "ready"; the stand-in has neither.
  function patchElement(element) {
    var mounted = false;
    var mount = element.mount;
    var on = element.on;

    function fireReady(handler) {
      setTimeout(function () {
        if (mounted) handler({ elementType: 'payment' });
      }, 0);
    }

    element.mount = function (domElement) {
      mount.call(element, domElement);
      Object.keys(CARD_FIELDS).forEach(function (field) {
        var input = cardInput(field);
        if (input) {
          input.setAttribute('aria-label', CARD_FIELDS[field]);
          if (field !== 'postal_code') input.setAttribute('inputmode', 'numeric');
          input.setAttribute('autocomplete', 'off');
        }
      });
      mounted = true;
      (element.listeners.ready || []).forEach(fireReady);
    };
    element.unmount = (function (unmount) {
      return function () {
        mounted = false;
        unmount.call(element);
      };
    })(element.unmount);
    element.on = function (event, handler) {
      on.call(element, event, handler);
      if (event === 'ready' && mounted) fireReady(handler);
      return element;
    };
    element.off = function (event, handler) {
      var handlers = element.listeners[event] || [];
      var index = handlers.indexOf(handler);
      if (index >= 0) handlers.splice(index, 1);
      return element;
    };
    element.update = function () {};
    return element;
  }

  // The stand-in renders plain inputs, one per card field, told apart by their placeholders.
  function readCard() {
    var card = {};
    Object.keys(CARD_FIELDS).forEach(function (field) {
      var input = cardInput(field);
      card[field] = input ? input.value.replace(/\s+/g, '') : '';
    });
    if (card.exp_year.length === 2) card.exp_year = '20' + card.exp_year;
    return card;
  }

  function validate(card) {
    if (!/^\d{12,19}$/.test(card.number)) {
      return stripeError('validation_error', 'incomplete_number', 'Your card number is incomplete.');
    }
    if (!/^\d{1,2}$/.test(card.exp_month) || !/^\d{4}$/.test(card.exp_year)) {
      return stripeError('validation_error', 'incomplete_expiry', "Your card's expiration date is incomplete.");
    }
    if (!/^\d{3,4}$/.test(card.cvc)) {
      return stripeError('validation_error', 'incomplete_cvc', "Your card's security code is incomplete.");
    }
    return null;
  }

  function redirectStatus(status) {
    if (status === 'succeeded') return 'succeeded';
    if (status === 'processing') return 'pending';
    return 'failed';
  }

  window.Stripe = function OfflineStripe(publishableKey, options) {
    var stripe = StandIn(publishableKey, options);
    var standInElements = stripe.elements;

    stripe.elements = function (elementsOptions) {
      var elements = standInElements.call(stripe, elementsOptions);
      var create = elements.create;
      // The stand-in drops the options; confirmPayment needs the client secret from them.
      elements._clientSecret = elementsOptions && elementsOptions.clientSecret;
      elements.create = function (type, elementOptions) {
        return patchElement(create.call(elements, type, elementOptions));
      };
      elements.update = function () {};
      elements.submit = function () {
        return Promise.resolve({});
      };
      return elements;
    };

    stripe.confirmPayment = async function (params) {
      var elements = params && params.elements;
      var clientSecret = (params && params.clientSecret) || (elements && elements._clientSecret);
      var id = intentId(clientSecret);
      if (!id) {
        return { error: stripeError('invalid_request_error', 'missing_client_secret', 'No PaymentIntent client secret was given.') };
      }
      var card = readCard();
      var invalid = validate(card);
      if (invalid) return { error: invalid };

      var intent;
      try {
        var paymentMethod = await call('POST', 'v1/payment_methods', {
          client_secret: clientSecret,
          type: 'card',
          'card[number]': card.number,
          'card[exp_month]': card.exp_month,
          'card[exp_year]': card.exp_year,
          'card[cvc]': card.cvc,
        });
        // localstripe cannot confirm with a payment_method parameter (500), so set it first.
        intent = await call('POST', 'v1/payment_intents/' + id, { client_secret: clientSecret, payment_method: paymentMethod.id });
        if (intent.status !== 'requires_confirmation') {
          // localstripe keeps a declined charge on the intent, so it never confirms that intent again;
          // real Stripe does. Say so plainly rather than forward its bare "Bad request".
          console.warn('offline-stripe-adapter: localstripe cannot confirm ' + id + ' (status ' + intent.status + ').');
          return {
            error: stripeError('invalid_request_error', 'payment_intent_unexpected_state', 'The offline Stripe stand-in cannot confirm this payment again.'),
          };
        }
        intent = await call('POST', 'v1/payment_intents/' + id + '/confirm', { client_secret: clientSecret });
      } catch (error) {
        return { error: error };
      }

      if (intent.status === 'requires_action') {
        return {
          error: stripeError('card_error', 'authentication_required', 'This card needs authentication, which offline mode does not support.'),
        };
      }
      if (intent.status !== 'succeeded' && intent.status !== 'processing') {
        var last = intent.last_payment_error;
        return { error: last || stripeError('card_error', 'payment_failed', 'Your payment could not be completed.') };
      }
      var noRedirect = params.redirect === 'if_required';
      if (noRedirect) return { paymentIntent: intent };

      var returnUrl = new URL(params.confirmParams.return_url, window.location.href);
      returnUrl.searchParams.set('payment_intent', intent.id);
      returnUrl.searchParams.set('payment_intent_client_secret', clientSecret);
      returnUrl.searchParams.set('redirect_status', redirectStatus(intent.status));
      window.location.assign(returnUrl.toString());
      // Like Stripe.js: the page is navigating away, so the promise never settles.
      return new Promise(function () {});
    };

    stripe.retrievePaymentIntent = function (clientSecret) {
      var id = intentId(clientSecret);
      if (!id) {
        return Promise.resolve({ error: stripeError('invalid_request_error', 'invalid_client_secret', 'Invalid client secret.') });
      }
      return asResult(call('GET', 'v1/payment_intents/' + id, { client_secret: clientSecret }), 'paymentIntent');
    };

    return stripe;
  };
})();
