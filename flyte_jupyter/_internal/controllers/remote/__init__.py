"""The controller of a remote action: nested task calls become EnqueueAction requests, followed
through informers on the state service. `lazy.LazyRemoteController` costs nothing until the first
nested call."""
