"""One function of the client's namespace, declared once and run by either client.

The namespace's functions are declared once, in the table ``calls.Functions``: each is a
:class:`Function` made by :func:`function` or :func:`predicate` from a plain Python function
that has the package's signature (its parameter names, order, kinds and defaults; the
annotations say which arguments each takes, ``arguments.py``) and builds the job the call is:
a :class:`~mtgateway.wire.Call` to the gateway, or a :class:`Session` step (``initialize``,
``login``, ``shutdown``, ``last_error``) the client carries out itself.

The synchronous and the asyncio client both inherit the table, so neither declares a
function again: reading ``client.account_info`` asks the client's face (:class:`SyncFace`,
:class:`AsyncFace`) for a callable with the function's signature and documentation, which
binds the arguments as the package does (a refusal answers the function's failure value, with
the package's error as ``last_error()``), builds the job and runs it, plainly or as a
coroutine. The overloads of :meth:`Function.__get__` tell type checkers the same: on a
:class:`SyncFace` the function answers its result, on an :class:`AsyncFace` an awaitable of it.

The module-level functions of ``mtgateway`` and ``mtgateway.aio`` are their default client's,
named by :func:`module_functions` from the client's class, so the table is their one list too;
type checkers, which cannot run it, read the same names from stubs written from the table
(``stubs.py``).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from .arguments import Check, refusal
from .errors import LastError
from .wire import Call

__all__ = ["AsyncFace", "Declared", "Function", "Job", "Local", "Session", "SyncFace", "function",
           "module_function_names", "module_functions", "predicate", "step"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True)
class Session:
    """A step the client carries out itself rather than send as one call: ``name`` is the
    function's, ``arguments`` its bound arguments (every parameter, defaults applied)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


#: What a function's declaration builds from its arguments.
Job = Call[Any] | Session


class Declared(Generic[P, R]):
    """A function of the namespace: its signature (``build``'s), what it answers when its
    arguments are refused (``failed``), whether it is one of the ``MetaTrader5``
    package's own (``package``) or MT Gateway's addition, and its own rule on the arguments
    it binds, beyond their types (``check``, ``arguments.py``).

    A descriptor: on a client it is that client's callable (see the module docstring);
    :class:`Function` and :class:`Local` say which callable to type checkers.
    """

    def __init__(self, build: Callable[P, Job], *, failed: Any, package: bool,
                 check: Check | None = None) -> None:
        self.build = build
        self.failed = failed
        self.package = package
        self.check = check
        self.name = build.__name__
        self.signature = inspect.signature(build)
        self.__doc__ = build.__doc__
        self.__signature__ = self.signature

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.name:
            raise TypeError(f"{owner.__name__}.{name} is declared by a function named "
                            f"{self.name!r}")

    def refusal(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> LastError | None:
        """The package's error for these arguments, or None when the function takes them."""
        return refusal(self.name, self.signature, args, kwargs, self.check)

    def job(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Job:
        """The job of a call whose arguments :meth:`refusal` accepted."""
        return self.build(*args, **kwargs)

    def answer(self, value: Any) -> Any:
        """What the function answers for its job's ``value`` (``None`` when the job failed):
        a predicate answers ``True`` or ``False`` only."""
        return value is True if self.failed is False else value

    def wrap(self, run: Callable[..., Any], client: object) -> Callable[..., Any]:
        """``run`` (which takes the client first) bound to ``client`` and dressed as the
        function: its name, documentation and signature.

        A bound method, as the module functions were: stored as a class attribute it is not
        bound again (the package's functions are C functions, which never bind; aiomql builds
        a class of them), and an asyncio client's stays a coroutine function to
        ``inspect``."""
        run.__name__ = run.__qualname__ = self.name
        run.__doc__ = self.__doc__
        client_first = inspect.Parameter("client", inspect.Parameter.POSITIONAL_ONLY)
        run.__signature__ = self.signature.replace(  # type: ignore[attr-defined]
            parameters=[client_first, *self.signature.parameters.values()])
        return types.MethodType(run, client)

    def bind_to(self, obj: object) -> Any:
        """This function as ``obj``'s callable (``obj`` a client), or itself on the class."""
        if obj is None:
            return self
        if not isinstance(obj, SyncFace | AsyncFace):
            raise TypeError(f"{self.name} is a function of a client, not of "
                            f"{type(obj).__name__}")
        bound = obj._function(self)
        obj.__dict__[self.name] = bound  # made once per client: the next read finds it
        return bound

    def __repr__(self) -> str:
        return f"<function {self.name}{self.signature}>"


class Function(Declared[P, R]):
    """A function that may wait on the gateway: awaited on the asyncio client."""

    @overload
    def __get__(self, obj: None, owner: type) -> Function[P, R]: ...

    @overload
    def __get__(self, obj: SyncFace, owner: type) -> Callable[P, R]: ...

    @overload
    def __get__(self, obj: AsyncFace, owner: type) -> Callable[P, Awaitable[R]]: ...

    def __get__(self, obj: object, owner: type) -> Any:
        return self.bind_to(obj)


class Local(Declared[P, R]):
    """A function the client answers without I/O: called, not awaited, on either client."""

    @overload
    def __get__(self, obj: None, owner: type) -> Local[P, R]: ...

    @overload
    def __get__(self, obj: SyncFace | AsyncFace, owner: type) -> Callable[P, R]: ...

    def __get__(self, obj: object, owner: type) -> Any:
        return self.bind_to(obj)


def function(*, package: bool = True, check: Check | None = None
             ) -> Callable[[Callable[P, Call[T]]], Function[P, T | None]]:
    """Declare a function sent as one call, answering its result or ``None`` on failure.
    ``package=False`` marks MT Gateway's additions; ``check`` is the function's own rule on
    its arguments, refused before anything is sent."""
    def declare(build: Callable[P, Call[T]]) -> Function[P, T | None]:
        return Function(build, failed=None, package=package, check=check)
    return declare


def predicate(*, package: bool = True) -> Callable[[Callable[P, Job]], Function[P, bool]]:
    """Declare a function answering ``True`` or ``False`` (``False`` on failure)."""
    def declare(build: Callable[P, Job]) -> Function[P, bool]:
        return Function(build, failed=False, package=package)
    return declare


def step(result: type[T]) -> Callable[[Callable[P, Session]], Local[P, T]]:
    """Declare one of the package's functions the client answers from what it holds, without
    I/O, whose answer is a ``result`` (``last_error``): a plain function on both clients."""
    def declare(build: Callable[P, Session]) -> Local[P, T]:
        return Local(build, failed=None, package=True)
    return declare


class SyncFace:
    """A client whose functions answer when called (``mtgateway.Client``)."""

    def _refuse(self, error: LastError) -> None:
        """A call refused before it was sent: its error is the last."""
        raise NotImplementedError

    def _do(self, job: Job) -> Any:
        """Carry out ``job``; its value, or ``None`` when it failed (``last_error()`` set)."""
        raise NotImplementedError

    def _function(self, declared: Declared[Any, Any]) -> Callable[..., Any]:
        def run(client: SyncFace, /, *args: Any, **kwargs: Any) -> Any:
            error = declared.refusal(args, kwargs)
            if error is not None:
                client._refuse(error)
                return declared.failed
            return declared.answer(client._do(declared.job(args, kwargs)))
        return declared.wrap(run, self)


class AsyncFace:
    """A client whose functions are coroutines (``mtgateway.aio.AsyncClient``), but for
    the :class:`Local` ones, which answer at once."""

    def _refuse(self, error: LastError) -> None:
        """A call refused before it was sent: its error is the last."""
        raise NotImplementedError

    def _do_now(self, job: Session) -> Any:
        """Carry out a :class:`Local` function's job."""
        raise NotImplementedError

    async def _do(self, job: Job) -> Any:
        """Carry out ``job``; its value, or ``None`` when it failed (``last_error()`` set)."""
        raise NotImplementedError

    def _function(self, declared: Declared[Any, Any]) -> Callable[..., Any]:
        if isinstance(declared, Local):
            def now(client: AsyncFace, /, *args: Any, **kwargs: Any) -> Any:
                error = declared.refusal(args, kwargs)
                if error is not None:
                    client._refuse(error)
                    return declared.failed
                job = declared.job(args, kwargs)
                assert isinstance(job, Session)
                return declared.answer(client._do_now(job))
            return declared.wrap(now, self)

        async def run(client: AsyncFace, /, *args: Any, **kwargs: Any) -> Any:
            error = declared.refusal(args, kwargs)
            if error is not None:
                client._refuse(error)
                return declared.failed
            return declared.answer(await client._do(declared.job(args, kwargs)))
        return declared.wrap(run, self)



def module_function_names(cls: type) -> list[str]:
    """The module-level functions of a client class ``cls``: every function of its table
    (``calls.Functions``) in the table's order, then the public methods the class itself
    defines (``call``; the asyncio client's streams) in its order."""
    names: dict[str, None] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if not name.startswith("_") and (isinstance(value, Declared) or callable(value)):
                names[name] = None
    return list(names)


def module_functions(client: SyncFace | AsyncFace) -> dict[str, Callable[..., Any]]:
    """``client``'s functions by name, as a module holding it as its default client exports
    them (:func:`module_function_names`)."""
    return {name: getattr(client, name) for name in module_function_names(type(client))}
